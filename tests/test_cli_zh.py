"""The command line speaks Chinese: Typer/Click's own help and error words, prompts, --version."""

import re
from importlib import metadata

import pytest
from typer.testing import CliRunner

from guifan import __version__
from guifan.cli import app
from guifan.cli_zh import detail, wrap

runner = CliRunner()
ENGLISH = ("Usage:", "Options", "Arguments", "Commands", "Show this message", "Missing", "No such",
           "Invalid value", "Try '", "Error:", "required]", "default:", "Aborted")


def run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def commands(group=app, prefix=()):
    """Every command path of the app (groups and their commands)."""
    from typer.main import get_command

    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(get_command(group), prefix)


@pytest.mark.parametrize("path", list(commands()), ids=lambda p: " ".join(p) or "guifan")
def test_every_help_page_is_chinese(path):
    shown = run(*path, "--help", env={"COLUMNS": "100"})
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"用法: guifan{''.join(' ' + p for p in path)} [选项]")
    assert "显示本帮助并退出。" in shown.stdout
    assert "选项:" in shown.stdout
    for word in ENGLISH:
        assert word not in shown.stdout, (word, shown.stdout)
    for line in shown.stdout.splitlines():  # measured in terminal cells: Chinese takes two
        from rich.cells import cell_len

        assert cell_len(line) <= 100, line


def test_help_headings_notes_and_types():
    shown = run("check", "--help", env={"COLUMNS": "100"}).stdout
    assert "参数:" in shown and "[必填]" in shown
    assert "[默认: 100]" in shown and "[环境变量: GUIFAN_JUDGE_URL]" in shown
    assert re.search(r"-o, --output <路径>", shown)
    assert not re.search(r"^\s*[)）,，。;；]", shown, re.M), "a wrapped line starts with closing punctuation"
    assert "命令:" in run("--help").stdout and "命令 [参数]..." in run("--help").stdout


@pytest.mark.parametrize(("args", "expected"), [
    (("check",), "错误: 缺少参数 'paths'"),
    (("check", "x", "--bogus"), "错误: 没有选项 --bogus"),
    (("check", "x", "--format", "pdf"), "'--format' / '-f' 的值无效: 'pdf' 不是可选值 (可选: 'text', 'json', 'jsonl', 'html', 'xlsx')"),
    (("check", "x", "--jobs", "x"), "'--jobs' / '-j' 的值无效: 应为整数"),
    (("check", "x", "--jobs", "0"), "'--jobs' / '-j' 的值无效: 不能小于 1"),
    (("check", "x", "-o"), "错误: 选项 '-o' 需要一个值"),
    (("rule", "FBD006", "extra"), "错误: 多余的参数: extra"),
    (("chek",), "错误: 没有命令 'chek';是否要用 'check'?"),
    (("user", "add"), "错误: 缺少参数 'username'"),
])
def test_usage_errors_are_chinese(args, expected):
    result = run(*args)
    assert result.exit_code == 2
    assert expected in result.stderr
    for word in ENGLISH:
        assert word not in result.stderr, (word, result.stderr)
    if "-o" not in args:  # Click has no context for an option's missing value
        assert "用法: guifan" in result.stderr and "查看帮助。" in result.stderr


def test_value_details_in_chinese():
    assert detail("Value error, 'x' is not one of 'a', 'b'.") == "'x' 不是可选值 (可选: 'a', 'b')"
    assert detail("Path 'nope.txt' does not exist.") == "路径 'nope.txt' 不存在"
    assert detail("Input should be less than or equal to 2") == "不能大于 2"
    assert detail("5 is not in the range 1<=x<=2.") == "5 不在范围 1<=x<=2 内"
    assert detail("something new") == "something new"  # unknown: shown as written, not lost


def test_wrapping_counts_cells_and_keeps_punctuation():
    lines = wrap("把规则手册的标准用语作为客服声道的识别上下文(默认关闭)。second part", 20)
    assert all(len(line.encode("gbk")) <= 21 for line in lines)
    assert not any(line.startswith(("。", ")")) for line in lines)
    assert "".join(lines).replace(" ", "") == "把规则手册的标准用语作为客服声道的识别上下文(默认关闭)。secondpart"


def test_version():
    shown = run("--version")
    assert shown.exit_code == 0
    assert shown.stdout.strip() == f"guifan {__version__}"
    assert __version__ == metadata.version("guifan")


def test_password_prompt_is_chinese_and_asks_twice(tmp_path):
    pytest.importorskip("fastapi")
    db = f"sqlite:///{tmp_path / 'g.db'}"
    result = run("user", "add", "li", "--role", "admin", "--db", db, input="secret-one\nsecret-two\nsecret-one\nsecret-one\n")
    assert result.exit_code == 0, result.output
    assert "密码 (至少 8 位): " in result.stdout and "再次输入密码: " in result.stdout
    assert "两次输入的密码不一致" in result.stderr
    assert "已创建用户 li" in result.stderr
    assert "Repeat for confirmation" not in result.output


def test_cancelled_prompt_says_so_in_chinese(tmp_path):
    pytest.importorskip("fastapi")
    result = run("user", "add", "li", "--role", "admin", "--db", f"sqlite:///{tmp_path / 'g.db'}", input="")
    assert result.exit_code == 1
    assert "已取消" in result.stderr and "Aborted" not in result.output
