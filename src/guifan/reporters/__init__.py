"""Reporters: turn checked conversations into a terminal view, JSON, JSONL, HTML pages or an Excel workbook.

Every format is written as the results come, in constant memory: ``open_report`` opens the output
(a file, or standard output) and gives the format's ``encode`` (one conversation's piece of the
report, a picklable function run wherever the conversation is checked, a worker process included)
and its ``writer`` (``add`` each piece in order, then ``close`` with the summary and totals).

    with open_report("json", rulebook, Path("report.json")) as report:
        for result in results:
            report.writer.add(report.encode(result, rulebook))
        report.writer.close(summary, totals)

``write_report`` and the ``render_<fmt>(results, summary, rulebook, stream)`` functions do the same
for results at hand. Reporters read results and never change them; nothing outside this package
imports it except the CLI and the web app.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from guifan.errors import GuifanError
from guifan.reporters.common import Encoder, Writer, write_all
from guifan.reporters.html import HtmlWriter, encode_html, render_html
from guifan.reporters.jsonreport import (
    JsonlWriter,
    JsonWriter,
    encode_json,
    encode_jsonl,
    render_json,
    render_jsonl,
    report_document,
    report_schema,
)
from guifan.reporters.text import TextEncoder, TextWriter, render_text
from guifan.reporters.xlsx import XlsxWriter, encode_xlsx, render_xlsx
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, CheckResult

__all__ = [
    "REPORTERS", "BINARY_FORMATS", "SUFFIXES", "Report", "open_report", "write_report", "guess_format",
    "render_text", "render_json", "render_jsonl", "render_html", "render_xlsx", "report_document", "report_schema",
]

Reporter = Callable[[Sequence[CheckResult], BatchSummary, Rulebook, object], None]

REPORTERS: dict[str, Reporter] = {
    "text": render_text,
    "json": render_json,
    "jsonl": render_jsonl,
    "html": render_html,
    "xlsx": render_xlsx,
}
BINARY_FORMATS = frozenset({"json", "jsonl", "xlsx"})  # written as bytes (UTF-8 for the JSON formats)
SUFFIXES = {"text": ".txt", "json": ".json", "jsonl": ".jsonl", "html": ".html", "xlsx": ".xlsx"}


def guess_format(path: Path | str) -> str | None:
    """The format an output file name asks for (``report.html`` -> "html"), or None."""
    suffix = Path(path).suffix.lower()
    aliases = {".htm": "html", ".log": "text", ".ndjson": "jsonl"}
    return next((fmt for fmt, s in SUFFIXES.items() if s == suffix), aliases.get(suffix))


@dataclass(frozen=True)
class Report:
    """A report being written: ``encode`` makes a conversation's piece, ``writer`` puts it in place."""

    encode: Encoder
    writer: Writer


def _report(fmt: str, stream, rulebook: Rulebook, output: Path | None) -> Report:
    if fmt == "text":
        writer = TextWriter(stream, rulebook)
        return Report(TextEncoder.like(writer.console), writer)
    if fmt == "html":
        return Report(encode_html, HtmlWriter(stream, rulebook, output))
    kinds = {"json": (encode_json, JsonWriter), "jsonl": (encode_jsonl, JsonlWriter), "xlsx": (encode_xlsx, XlsxWriter)}
    encode, make = kinds[fmt]
    return Report(encode, make(stream, rulebook))


@contextmanager
def open_report(fmt: str, rulebook: Rulebook, output: Path | None = None) -> Iterator[Report]:
    """The report of format ``fmt`` on ``output`` (standard output when None), open for the block;
    the caller closes its writer when the batch is done. Failing to write is a ``GuifanError``."""
    if fmt not in REPORTERS:
        raise GuifanError(f"未知的报告格式 {fmt!r},可选: {', '.join(REPORTERS)}")
    binary = fmt in BINARY_FORMATS
    if output is None:
        sys.stdout.flush()
        stream = sys.stdout.buffer if binary else sys.stdout
        yield _report(fmt, stream, rulebook, None)
        stream.flush()
        return
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "wb") if binary else open(output, "w", encoding="utf-8", newline="\n") as stream:
            yield _report(fmt, stream, rulebook, output)
    except OSError as exc:
        raise GuifanError(f"无法写入报告 {output}: {exc.strerror or exc}") from None


def write_report(
    fmt: str,
    results: Iterable[CheckResult],
    summary: BatchSummary,
    rulebook: Rulebook,
    output: Path | None = None,
) -> None:
    """Render ``results`` in format ``fmt`` to ``output``, or to standard output when it is None.
    ``summary`` must be complete: results checked lazily (``Checker.check_all``) complete it only
    as they are taken, so check them first, or write with ``open_report`` as they come."""
    with open_report(fmt, rulebook, output) as report:
        write_all(report.writer, report.encode, results, summary, rulebook)
