"""The JSON report: the machine-readable result of a batch (schema: guifan/schemas/report.schema.json).

Documented field by field in docs/json-report.md. Text stays readable Chinese (``ensure_ascii=False``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Sequence, TextIO

from guifan.reporters.common import conversation_record, summary_record
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, CheckResult

# Bumped whenever a field changes meaning or disappears; new optional fields do not bump it.
REPORT_VERSION = 1


def report_document(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "summary": summary_record(summary),
        "rulebook": rulebook.origin,
        "conversations": [conversation_record(r, rulebook) for r in results],
    }


def render_json(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: TextIO) -> None:
    json.dump(report_document(results, summary, rulebook), stream, ensure_ascii=False, indent=2)
    stream.write("\n")


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every JSON report validates against."""
    text = resources.files("guifan").joinpath("schemas", "report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
