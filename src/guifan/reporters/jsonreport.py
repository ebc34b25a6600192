"""The JSON report (one document) and the JSONL report (a line per conversation, then the summary):
the machine-readable result of a batch (schema: guifan/schemas/report.schema.json).

Documented field by field in docs/json-report.md. Text stays readable Chinese (UTF-8). Both are
written as the conversations are checked: each conversation's record is encoded where it was
checked (``encode_json``/``encode_jsonl``, in a worker process for ``--jobs``) and the writer only
puts the bytes in place, so a batch of any size is written in constant memory; the summary, known
only at the end, closes the document (the JSON document's ``summary`` comes after its
``conversations``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any, BinaryIO, Sequence, TextIO

from guifan.fastjson import dumps, loads
from guifan.reporters.common import byte_sink, conversation_record, summary_record, write_all
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, BatchTotals, CheckResult

# Bumped whenever a field changes meaning or disappears; new optional fields do not bump it.
REPORT_VERSION = 1
_NESTED = b"\n    "  # a conversation record sits two levels deep in the document


def report_document(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "summary": summary_record(summary),
        "rulebook": rulebook.origin,
        "conversations": [conversation_record(r, rulebook) for r in results],
    }


def encode_json(result: CheckResult, rulebook: Rulebook) -> bytes:
    """One conversation's record, indented as it stands in the document's ``conversations``."""
    return dumps(conversation_record(result, rulebook), indent=True).replace(b"\n", _NESTED)


def encode_jsonl(result: CheckResult, rulebook: Rulebook) -> bytes:
    """One conversation's record as a line of the JSONL report."""
    return dumps(conversation_record(result, rulebook)) + b"\n"


class JsonWriter:
    """The JSON document, written as it goes: head, each conversation, then the summary."""

    def __init__(self, stream: BinaryIO | TextIO, rulebook: Rulebook):
        self._write = byte_sink(stream)
        self._separator = b"\n    "
        self._write(b'{\n  "version": %d,\n  "rulebook": %s,\n  "conversations": [' % (REPORT_VERSION, dumps(rulebook.origin)))

    def add(self, fragment: bytes) -> None:
        self._write(self._separator + fragment)
        self._separator = b",\n    "

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None:
        record = dumps(summary_record(summary), indent=True).replace(b"\n", b"\n  ")
        self._write(b'\n  ],\n  "summary": ' + record + b"\n}\n")


class JsonlWriter:
    """The JSONL report: a conversation's record per line, then one line with the summary."""

    def __init__(self, stream: BinaryIO | TextIO, rulebook: Rulebook):
        self._write = byte_sink(stream)
        self._rulebook = rulebook.origin

    def add(self, fragment: bytes) -> None:
        self._write(fragment)

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None:
        self._write(dumps({"version": REPORT_VERSION, "rulebook": self._rulebook, "summary": summary_record(summary)})
                    + b"\n")


def render_json(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: TextIO) -> None:
    write_all(JsonWriter(stream, rulebook), encode_json, results, summary, rulebook)


def render_jsonl(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: TextIO) -> None:
    write_all(JsonlWriter(stream, rulebook), encode_jsonl, results, summary, rulebook)


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every JSON report validates against."""
    return loads(resources.files("guifan").joinpath("schemas", "report.schema.json").read_bytes())
