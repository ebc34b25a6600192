"""Checked conversations stored straight into the QA workspace's database as they come
(``guifan check --db URL``, on this machine or on a Ray cluster).

The batch is checked with the workspace's active rulebook, and every conversation is stored through
``Workspace.store``, the web import's own path: a conversation imported again is found by its key
and updated (its review work kept), never stored twice. Conversations are stored in transactions
of ``BATCH`` and leave ``stored`` only once committed, so a state file (``--state``), which is
written as they leave, never names a conversation the database lacks: a killed run resumes with
nothing lost, and a conversation committed just before the kill is stored again the same.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from guifan.errors import GuifanError, InputError
from guifan.pipeline import Checked, Outcome
from guifan.reporters import Report
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, BatchTotals, CheckResult
from guifan.web.db import make_engine, migrate
from guifan.web.imports.service import refused
from guifan.web.services import Workspace

BATCH = 200  # conversations per transaction
UNAVAILABLE = (OperationalError, InterfaceError)  # the database is down or locked past its timeout


class WorkspaceStore:
    """The workspace at ``url`` (its schema migrated), its active rulebook and masking setting."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        try:
            migrate(self.engine)
            self.workspace = Workspace(self.engine)
            with self.workspace.sessions() as session:
                version = self.workspace.active_rulebook(session)
                self.version = version.version
                self.mask = bool(self.workspace.setting(session, "mask_personal_data"))
                self.rulebook: Rulebook = self.workspace.checker(version).engine.rulebook
                session.commit()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise GuifanError(f"无法打开工作台数据库 {url}: {exc}") from None

    def stored(self, outcomes: Iterable[Outcome], logged: bool = False) -> Iterator[Outcome]:
        """The outcomes, each checked conversation's once it is stored (those the database refuses
        become InputErrors naming them). Checked outcomes must keep their result (``Context.keep``).
        ``logged``: the run writes a state file, so a checked outcome without its line is a result
        read back from it, stored by the run that wrote it: passed on, not stored again."""
        batch: list[Outcome] = []
        for outcome in outcomes:
            batch.append(outcome)
            if len(batch) == BATCH:
                yield from self._store(batch, logged)
                batch = []
        yield from self._store(batch, logged)

    def _store(self, batch: list[Outcome], logged: bool) -> list[Outcome]:
        fresh = [isinstance(o, Checked) and (o.line or not logged) for o in batch]
        if not any(fresh):
            return batch
        refused: dict[int, InputError] = {}
        try:
            with self.workspace.sessions() as session:
                for index, outcome in enumerate(batch):
                    if fresh[index]:
                        refusal = self._store_one(session, outcome.result)
                        if refusal is not None:
                            refused[index] = refusal
                session.commit()
        except UNAVAILABLE as exc:  # stop: a rerun with the same --state goes on from the last commit
            raise GuifanError(f"无法写入工作台数据库 {self.url}: {exc}") from None
        return [refused.get(index, outcome) for index, outcome in enumerate(batch)]

    def _store_one(self, session, result: CheckResult) -> InputError | None:
        try:
            with session.begin_nested():  # a refused conversation undoes itself only
                self.workspace.store(session, result, self.version, self.mask)
        except UNAVAILABLE:
            raise
        except Exception as exc:  # e.g. text PostgreSQL cannot hold: that conversation, not the batch
            return refused(result.conversation.source or result.conversation.id, exc, result.conversation.id)
        return None

    def report(self) -> Report:
        """No report file: the conversations are in the workspace."""
        return Report(_nothing, _NoReport())


def _nothing(result: CheckResult, rulebook: Rulebook) -> None:
    return None


class _NoReport:
    def add(self, fragment: Any) -> None:
        pass

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None:
        pass
