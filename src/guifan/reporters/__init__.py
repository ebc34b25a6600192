"""Reporters: turn checked conversations into a terminal view, JSON, an HTML page or an Excel workbook.

Each format is a function ``render_<fmt>(results, summary, rulebook, stream)``; ``write_report``
picks one by name and opens the output (a file, or standard output). Reporters read results and
never change them; nothing outside this package imports it except the CLI and the web app.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence

from guifan.errors import GuifanError
from guifan.reporters.html import render_html
from guifan.reporters.jsonreport import render_json, report_document, report_schema
from guifan.reporters.text import render_text
from guifan.reporters.xlsx import render_xlsx
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, CheckResult

__all__ = [
    "REPORTERS", "BINARY_FORMATS", "SUFFIXES", "write_report", "guess_format",
    "render_text", "render_json", "render_html", "render_xlsx", "report_document", "report_schema",
]

Reporter = Callable[[Sequence[CheckResult], BatchSummary, Rulebook, object], None]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "html": render_html,
    "xlsx": render_xlsx,
}
BINARY_FORMATS = frozenset({"xlsx"})
SUFFIXES = {"text": ".txt", "json": ".json", "html": ".html", "xlsx": ".xlsx"}


def guess_format(path: Path | str) -> str | None:
    """The format an output file name asks for (``report.html`` -> "html"), or None."""
    suffix = Path(path).suffix.lower()
    aliases = {".htm": "html", ".log": "text"}
    return next((fmt for fmt, s in SUFFIXES.items() if s == suffix), aliases.get(suffix))


def write_report(
    fmt: str,
    results: Sequence[CheckResult],
    summary: BatchSummary,
    rulebook: Rulebook,
    output: Path | None = None,
) -> None:
    """Render ``results`` in format ``fmt`` to ``output``, or to standard output when it is None.

    ``results`` must be a finished sequence (not the lazy ``Checker.check_all`` iterator): the
    summary is only complete once every conversation has been checked.
    """
    try:
        render = REPORTERS[fmt]
    except KeyError:
        raise GuifanError(f"未知的报告格式 {fmt!r},可选: {', '.join(REPORTERS)}") from None
    binary = fmt in BINARY_FORMATS
    if output is None:
        stream = sys.stdout.buffer if binary else sys.stdout
        render(results, summary, rulebook, stream)
        stream.flush()
        return
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "wb") if binary else open(output, "w", encoding="utf-8", newline="\n") as stream:
            render(results, summary, rulebook, stream)
    except OSError as exc:
        raise GuifanError(f"无法写入报告 {output}: {exc.strerror or exc}") from None
