"""The command line's own words in Chinese: usage, help headings, the --help option, parse errors.

Typer writes its help and errors with Click's formatter and exceptions, in English and not through
a translation catalogue (Typer ≥ 0.26 vendors Click without its ``gettext`` calls). Everything a
person reads goes through a few public hooks of Typer's command classes, which this module fills:

- ``Command.context_class`` → a context whose ``formatter_class`` writes 用法 / 参数 / 选项 / 命令
  and the ``[必填; 默认: …]`` notes;
- ``Command.get_help_option`` → the help option's own help;
- ``Command.make_context`` and ``Group.invoke`` (where Click parses the command line) → a usage
  error re-raised as `ChineseUsageError`, whose message and ``show()`` are Chinese.

``Typer`` below is ``typer.Typer`` with these classes as defaults: ``guifan.cli`` builds every
command and group with it, so a new command is Chinese without asking.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
from rich.cells import cell_len
from typer.core import TyperCommand, TyperGroup

try:  # Typer ≥ 0.26 vendors Click
    from typer import _click as click
    from typer._click.formatting import HelpFormatter
except ImportError:  # pragma: no cover - older Typer on Click
    import click
    from click.formatting import HelpFormatter

UsageError = click.exceptions.UsageError

HELP_OPTION_HELP = "显示本帮助并退出。"
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."
HEADINGS = {"Usage": "用法", "Arguments": "参数", "Options": "选项", "Commands": "命令"}

# The value types Typer writes after a parameter (<str>, <list[Path]>, TEXT in older versions).
TYPE_NAMES = {
    "str": "文本", "text": "文本", "int": "整数", "integer": "整数", "int range": "整数", "float": "数字",
    "float range": "数字", "path": "路径", "file": "文件", "directory": "目录", "bool": "是/否",
    "boolean": "是/否", "datetime": "时间",
}
_TYPE = re.compile(r"<([^<>|]+)>")
# Older Typer (on Click) writes Click's metavars instead: --output PATH, --jobs INTEGER RANGE.
_CLICK_TYPE = re.compile(r"(?<= )(TEXT|INTEGER RANGE|INTEGER|FLOAT RANGE|FLOAT|PATH|FILENAME|FILE|DIRECTORY|BOOLEAN)(?=\.\.\.|\s|$)")
_EXTRAS = re.compile(r"\s*\\?\[([^\[\]]*)\]$")  # older Typer escapes the bracket for Rich: \[default: 1]


def _type_name(label: str) -> str:
    inner = re.fullmatch(r"list\[(.+)\]", label)
    label = inner.group(1) if inner else label
    return TYPE_NAMES.get(label.lower(), label)


def _term(term: str) -> str:
    """``-o, --output <Path>`` (or ``PATH``) → ``-o, --output <路径>``."""
    term = _TYPE.sub(lambda m: f"<{_type_name(m.group(1))}>", term)
    return _CLICK_TYPE.sub(lambda m: f"<{_type_name(m.group(1))}>", term)


def _extras(text: str) -> str:
    """``[env var: X; default: 1; required]`` → ``[环境变量: X; 默认: 1; 必填]``."""
    parts = []
    for part in text.split("; "):
        if part == "required":
            part = "必填"
        elif part.startswith("default: "):
            part = "默认: " + part.removeprefix("default: ")
        elif part.startswith("env var: "):
            part = "环境变量: " + part.removeprefix("env var: ")
        elif part == "(dynamic)":
            part = "(动态)"
        parts.append(part)
    return "; ".join(parts)


# A wrapping unit: one wide (CJK) character, a run of other non-space characters, or spaces.
_CHUNK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+")


_CLOSING = tuple(")]}）」』》,，。.;；:：、!！?？")
_OPENING = tuple("([{（「『《")


def _glued(chunks: list[str]) -> list[str]:
    """Chunks with closing punctuation kept on the line before it and opening punctuation on the
    line after it (no line starts with ")" or "。", none ends with "(")."""
    out: list[str] = []
    for chunk in chunks:
        if out and not out[-1].isspace() and (chunk.startswith(_CLOSING) or out[-1].endswith(_OPENING)):
            out[-1] += chunk
        else:
            out.append(chunk)
    return out


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` terminal cells: Chinese breaks between any two characters, other
    text at spaces (Click's wrapping counts characters, and a Chinese one takes two cells)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for chunk in _glued(_CHUNK.findall(paragraph)):
            if chunk.isspace():
                line += " " if line else ""
                continue
            if line.strip() and cell_len(line + chunk) > width:
                lines.append(line.rstrip())
                line = ""
            line += chunk
        lines.append(line.rstrip())
    return lines


class ChineseFormatter(HelpFormatter):
    """Click's help formatter with Chinese headings, usage prefix, type names and notes, measuring
    text in terminal cells."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="用法: " if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        super().write_heading(HEADINGS.get(heading, heading))

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for paragraph in re.split(r"\n\s*\n", text.strip()):
            if paragraph.startswith("\b"):  # Click's marker: keep the lines as written
                self.write("".join(f"{indent}{line}\n" for line in paragraph.splitlines()[1:]))
                continue
            flowed = " ".join(line.strip() for line in paragraph.splitlines())
            self.write("".join(f"{indent}{line}\n" for line in wrap(flowed, self.width - self.current_indent)))

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = [(_term(term), _EXTRAS.sub(lambda m: f"  [{_extras(m.group(1))}]", text) if text else text)
                for term, text in rows]
        first = min(max((cell_len(term) for term, _ in rows), default=0), col_max) + col_spacing
        margin = " " * (first + self.current_indent)
        for term, text in rows:
            self.write(" " * self.current_indent + term)
            if not text:
                self.write("\n")
                continue
            if cell_len(term) <= first - col_spacing:
                self.write(" " * (first - cell_len(term)))
            else:
                self.write("\n" + margin)
            lines = wrap(text, max(self.width - first - self.current_indent, 10))
            self.write(lines[0] + "\n" + "".join(f"{margin}{line}\n" for line in lines[1:]))


class ChineseContext(click.Context):
    formatter_class = ChineseFormatter


class ChineseUsageError(UsageError):
    """A usage error in Chinese: the usage line, where to find help, and what was wrong."""

    def show(self, file: Any = None) -> None:
        file = file or sys.stderr
        color = None
        if self.ctx is not None:
            color = self.ctx.color
            hint = ""
            if self.ctx.command.get_help_option(self.ctx) is not None:
                hint = f"运行 '{self.ctx.command_path} {self.ctx.help_option_names[0]}' 查看帮助。\n"
            click.echo(f"{self.ctx.get_usage()}\n{hint}", file=file, color=color)
        click.echo(f"错误: {self.format_message()}", file=file, color=color)


# Details of a bad value (from Click's types and, in newer Typer, pydantic): pattern → Chinese.
_DETAILS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^Value error, (?P<rest>.*)$"), "{rest}"),
    (re.compile(r"^(?P<value>.+?) is not one of (?P<choices>.+?)\.?$"), "{value} 不是可选值 (可选: {choices})"),
    (re.compile(r"^(?P<value>.+?) is not a valid (?:integer|int)\.?$"), "{value} 不是整数"),
    (re.compile(r"^(?P<value>.+?) is not a valid float(?: range)?\.?$"), "{value} 不是数字"),
    (re.compile(r"^Input should be a valid integer.*$"), "应为整数"),
    (re.compile(r"^Input should be a valid number.*$"), "应为数字"),
    (re.compile(r"^Input should be a valid boolean.*$"), "应为 true 或 false"),
    (re.compile(r"^Input should be greater than or equal to (?P<n>\S+)$"), "不能小于 {n}"),
    (re.compile(r"^Input should be less than or equal to (?P<n>\S+)$"), "不能大于 {n}"),
    (re.compile(r"^Input should be greater than (?P<n>\S+)$"), "应大于 {n}"),
    (re.compile(r"^Input should be less than (?P<n>\S+)$"), "应小于 {n}"),
    (re.compile(r"^(?P<value>\S+) is not in the range (?P<range>\S+?)\.?$"), "{value} 不在范围 {range} 内"),
    (re.compile(r"^(?P<kind>File|Directory|Path) (?P<path>.+) does not exist\.$"), "{kind} {path} 不存在"),
    (re.compile(r"^(?P<kind>File|Directory|Path) (?P<path>.+) is a directory\.$"), "{kind} {path} 是目录"),
    (re.compile(r"^(?P<kind>File|Directory|Path) (?P<path>.+) is a file\.$"), "{kind} {path} 是文件"),
    (re.compile(r"^(?P<kind>File|Directory|Path) (?P<path>.+) is not readable\.$"), "{kind} {path} 不可读"),
    (re.compile(r"^(?P<kind>File|Directory|Path) (?P<path>.+) is not writable\.$"), "{kind} {path} 不可写"),
    (re.compile(r"^Value (?P<value>.+) is not a valid (?P<type>.+?)\.$"), "{value} 不是有效的{type}"),
]
_KINDS = {"File": "文件", "Directory": "目录", "Path": "路径"}


def detail(message: str) -> str:
    """A bad value's explanation in Chinese; the original when it is not one Click or Typer writes."""
    for pattern, template in _DETAILS:
        found = pattern.match(message.strip())
        if found:
            values = {key: _KINDS.get(value, value) for key, value in found.groupdict().items()}
            if "type" in values:
                values["type"] = _type_name(values["type"])
            text = template.format(**values)
            return detail(text) if template == "{rest}" else text
    return message


def _hint(exc: Any) -> str:
    hint = getattr(exc, "param_hint", None)
    if hint is None and getattr(exc, "param", None) is not None:
        try:
            hint = exc.param.get_error_hint(exc.ctx)
        except TypeError:  # Typer ≥ 0.26: no context argument
            hint = exc.param.get_error_hint()
    if hint is not None and not isinstance(hint, str):
        hint = " / ".join(repr(h) for h in hint)
    return hint or ""


def _option_usage(message: str) -> str:
    for pattern, template in (
        (r"^Option (?P<name>.+) requires an argument\.$", "选项 {name} 需要一个值"),
        (r"^Option (?P<name>.+) requires (?P<n>\d+) arguments\.$", "选项 {name} 需要 {n} 个值"),
        (r"^Option (?P<name>.+) does not take a value\.$", "选项 {name} 不接受值"),
        (r"^Argument (?P<name>.+) takes (?P<n>\d+) values\.$", "参数 {name} 需要 {n} 个值"),
        (r"^Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$", "多余的参数: {args}"),
        (r"^Missing command\.?$", "缺少命令"),
        (r"^No such command (?P<name>'.+?')\.(?: Did you mean (?P<like>.+)\?)?$", "没有命令 {name}"),
    ):
        found = re.match(pattern, message)
        if found:
            text = template.format(**{k: v or "" for k, v in found.groupdict().items()})
            if found.groupdict().get("like"):
                text += f";是否要用 {found['like']}?"
            return text
    return message


def chinese_message(exc: Any) -> str:
    """What a Click usage error says, in Chinese."""
    kind = type(exc).__name__
    if kind == "MissingParameter":
        param_type = exc.param_type or (exc.param.param_type_name if exc.param is not None else "parameter")
        noun = {"argument": "参数", "option": "选项"}.get(param_type, "参数")
        return f"缺少{noun} {_hint(exc)}".rstrip()
    if kind == "NoSuchOption":
        text = f"没有选项 {exc.option_name}"
        if exc.possibilities:
            text += f";是否要用 {', '.join(sorted(exc.possibilities))}?"
        return text
    if kind == "BadParameter":
        hint = _hint(exc)
        return f"{hint} 的值无效: {detail(exc.message)}" if hint else f"值无效: {detail(exc.message)}"
    return _option_usage(exc.message)


def _translated(exc: UsageError) -> UsageError:
    if isinstance(exc, ChineseUsageError) or type(exc).__name__ == "NoArgsIsHelpError":
        return exc
    return ChineseUsageError(chinese_message(exc), exc.ctx)


class _Chinese:
    """What the command and group classes share."""

    context_class = ChineseContext

    def _chinese_metavars(self) -> None:
        if getattr(self, "options_metavar", None) == "[OPTIONS]":
            self.options_metavar = OPTIONS_METAVAR

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION_HELP
        return option

    def make_context(self, *args: Any, **kwargs: Any):
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            raise _translated(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _translated(exc) from None
        except typer.Abort:
            click.echo("已取消。", err=True)
            raise typer.Exit(1) from None


class ChineseCommand(_Chinese, TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chinese_metavars()


class ChineseGroup(_Chinese, TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chinese_metavars()
        if self.subcommand_metavar == "COMMAND [ARGS]...":
            self.subcommand_metavar = SUBCOMMAND_METAVAR


class Typer(typer.Typer):
    """``typer.Typer`` whose commands and groups speak Chinese (help, usage, errors)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", ChineseGroup)
        kwargs.setdefault("rich_markup_mode", None)
        super().__init__(**kwargs)

    def command(self, *args: Any, cls: Any = None, **kwargs: Any):
        return super().command(*args, cls=cls or ChineseCommand, **kwargs)
