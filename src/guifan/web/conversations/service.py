"""Lists and review in bulk: page links, sortable columns, saved filters, assigning conversations
to a reviewer and confirming findings together. Scope and permissions are the callers' (the API's
dependencies and ``visible``)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from guifan.web.conversations.models import SavedFilter
from guifan.web.models import Assignment, Conversation, Finding, User, UserRole
from guifan.web.notifications import service as notifications
from guifan.web.services import WorkspaceError, audit, visible

PAGE_SIZES = (20, 50, 100, 200)
LIST_PAGES = ("conversations", "appeals", "audit")  # the lists a filter can be saved for
MAX_SAVED_FILTERS = 50  # per user and list
QUERY_MAX_CHARS = 2000
BULK_MAX = 500  # ids in one bulk action


def query_with(params: QueryParams, **changes) -> str:
    """The query string of a list with some parameters changed (None removes one): page links,
    sort links and page sizes keep every filter."""
    items = [(k, v) for k, v in params.multi_items() if k not in changes]
    items += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlencode(items)


@dataclass(frozen=True)
class Pager:
    total: int
    page: int
    per_page: int
    # The conversation list counts at most COUNT_CAP rows: capped, the total is a lower bound ("10000+").
    capped: bool = False
    next: str | None = None  # where the next page starts (a keyset cursor), when the list gives one
    on_page: int | None = None  # rows on this page, when the list says

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page), self.page if self.capped else 1)

    @property
    def first(self) -> int:
        """The number of the page's first row, counted from 1 (0 when the list is empty)."""
        first = (self.page - 1) * self.per_page + 1
        if self.on_page is None:
            return min(self.total, first)
        return first if self.on_page else 0

    @property
    def last(self) -> int:
        if self.on_page is not None:
            return (self.page - 1) * self.per_page + self.on_page
        return min(self.total, self.page * self.per_page)

    @property
    def has_next(self) -> bool:
        return self.next is not None or self.page < self.pages

    def links(self) -> list[int | None]:
        """Page numbers to link: the first, the last (when the total is known) and two either side
        of the current one, None for a gap."""
        wanted = {1, *range(self.page - 2, self.page + 3)} | (set() if self.capped else {self.pages})
        shown = sorted(n for n in wanted if 1 <= n <= self.pages)
        out: list[int | None] = []
        for n in shown:
            if out and n - out[-1] > 1:
                out.append(None)
            out.append(n)
        return out + [None] if self.capped else out


def paged(session: Session, query: Select, page: int, per_page: int) -> tuple[Pager, list]:
    """One page of a sorted query (offset: the lists' sort columns are indexed, and a page is at
    most 200 rows) and the pager with the total."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return Pager(total, page, per_page), list(session.scalars(query.offset((page - 1) * per_page).limit(per_page)))


# -- the conversation list at scale --------------------------------------------------------------

COUNT_CAP = 10_000  # matching conversations counted at most: an exact count of a million is slow


def keyset_page(session: Session, query: Select, matching: Select, column, sort: str, descending: bool, page: int,
                per_page: int, after: str | None) -> tuple[Pager, list[Conversation]]:
    """A page of conversations ordered by ``column`` then id (both in the sort's direction), and
    its pager. ``matching``: the same conversations' ids, counted up to COUNT_CAP.

    A page starts after the row a cursor names (``after``, the previous page's ``Pager.next``):
    found through the (column, id) index however deep, where an offset would walk every row
    before it; page numbers (offsets) serve the links within the counted total. NULLs sort where
    the database puts them (PostgreSQL: as the largest value, SQLite: the smallest), in both the
    order and the cursor."""
    counted = session.scalar(select(func.count()).select_from(matching.order_by(None).limit(COUNT_CAP + 1).subquery()))
    start = _cursor(after, sort, descending) if after else None
    if start is None:
        rows = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    else:
        nulls_large = session.get_bind().dialect.name == "postgresql"
        rows = []
        for segment in _after(query, column, descending, *start, nulls_first=descending == nulls_large):
            rows += session.scalars(segment.limit(per_page + 1 - len(rows)))
            if len(rows) > per_page:
                break
    more = len(rows) > per_page
    rows = rows[:per_page]
    cursor = _encode(sort, descending, getattr(rows[-1], column.key), rows[-1].id) if more else None
    return Pager(min(counted, COUNT_CAP), page, per_page, capped=counted > COUNT_CAP, next=cursor,
                 on_page=len(rows)), rows


def _after(query: Select, column, descending: bool, value, row_id: int, nulls_first: bool) -> list[Select]:
    """The rows after (value, row_id) in the query's order, as queries to read one after another:
    each a range of the (column, id) index."""
    later = (lambda a, b: a < b) if descending else (lambda a, b: a > b)
    if value is None:
        segments = [query.where(column.is_(None), later(Conversation.id, row_id))]
        return segments + [query.where(column.is_not(None))] if nulls_first else segments
    segments = [query.where(later(tuple_(column, Conversation.id), tuple_(value, row_id)))]
    return segments if nulls_first else segments + [query.where(column.is_(None))]


def _encode(sort: str, descending: bool, value, row_id: int) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([sort, descending, value, row_id], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor(text: str, sort: str, descending: bool) -> tuple | None:
    """(value, id) of a cursor made for this sort and direction; None for another's (a link kept
    from before the sort changed: the page number then applies)."""
    try:
        found, descending_, value, row_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        if not isinstance(row_id, int) or isinstance(value, (list, dict)):
            raise ValueError
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise WorkspaceError("翻页位置无效,请从第一页重新打开列表") from None
    return (value, row_id) if (found, descending_) == (sort, descending) else None


# -- saved filters -------------------------------------------------------------------------------


def saved_filters(session: Session, user: User, page: str) -> list[SavedFilter]:
    return list(session.scalars(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.page == page)
                                .order_by(SavedFilter.name)))


def save_filter(session: Session, user: User, page: str, name: str, query: str) -> SavedFilter:
    """Save (or replace, by name) one of the user's filters; the page number is not kept."""
    name = name.strip()
    if page not in LIST_PAGES:
        raise WorkspaceError(f"没有这个列表: {page}")
    if not name:
        raise WorkspaceError("请填写筛选条件的名称")
    query = query_with(QueryParams(query.lstrip("?")), page=None, after=None)
    if len(query) > QUERY_MAX_CHARS:
        raise WorkspaceError(f"筛选条件过长 (最多 {QUERY_MAX_CHARS} 个字符)")
    row = session.scalar(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.page == page,
                                                   SavedFilter.name == name))
    if row is None:
        if len(saved_filters(session, user, page)) >= MAX_SAVED_FILTERS:
            raise WorkspaceError(f"每个列表最多保存 {MAX_SAVED_FILTERS} 个筛选条件,请先删除不用的")
        row = SavedFilter(user_id=user.id, page=page, name=name, query=query, created_at=datetime.now(timezone.utc))
        session.add(row)
    row.query = query
    session.flush()
    return row


def delete_filter(session: Session, user: User, filter_id: int) -> None:
    row = session.get(SavedFilter, filter_id)
    if row is None or row.user_id != user.id:  # another user's filter does not exist for this one
        raise WorkspaceError("没有这个筛选条件")
    session.delete(row)


def filter_dict(row: SavedFilter) -> dict:
    return {"id": row.id, "page": row.page, "name": row.name, "query": row.query}


# -- bulk actions --------------------------------------------------------------------------------


def reviewers(session: Session) -> list[User]:
    """Who conversations can be assigned to: active reviewers and supervisors."""
    return list(session.scalars(select(User).where(User.role.in_((UserRole.REVIEWER, UserRole.SUPERVISOR)),
                                                   User.active.is_(True)).order_by(User.display_name, User.id)))


def assign(session: Session, user: User, ids: list[int], reviewer_id: int) -> list[Assignment]:
    """Assign the conversations (those of ``ids`` the user may see) to a reviewer for this ISO week;
    those already assigned to the reviewer are left as they are. Returns the new assignments."""
    reviewer = session.get(User, reviewer_id)
    if reviewer is None or reviewer not in reviewers(session):
        raise WorkspaceError("没有这个质检员")
    found = set(session.scalars(visible(select(Conversation.id).where(Conversation.id.in_(ids)), user)))
    if not found:
        raise WorkspaceError("请先选择会话")
    taken = set(session.scalars(select(Assignment.conversation_id).where(
        Assignment.reviewer_id == reviewer.id, Assignment.conversation_id.in_(found))))
    year, week, _ = datetime.now(timezone.utc).isocalendar()
    made = [Assignment(conversation_id=cid, reviewer_id=reviewer.id, week=f"{year}-W{week:02d}")
            for cid in sorted(found - taken)]
    session.add_all(made)
    session.flush()
    notifications.assigned(session, user, made)
    for row in made:
        audit(session, user, "assign", "assignment", row.id, None,
              {"conversation_id": row.conversation_id, "reviewer_id": reviewer.id, "week": row.week})
    return made


def confirm_findings(session: Session, workspace, user: User, ids: list[int]) -> list[Finding]:
    """Confirm the open automatic findings of ``ids`` the user may see (others are left alone)."""
    visible_ids = visible(select(Conversation.id), user)
    findings = list(session.scalars(select(Finding).where(Finding.id.in_(ids), Finding.manual.is_(False),
                                                          Finding.conversation_id.in_(visible_ids))
                                    .order_by(Finding.id)))
    if not findings:
        raise WorkspaceError("请先选择问题")
    for finding in findings:
        workspace.set_verdict(session, user, finding, True)
    return findings
