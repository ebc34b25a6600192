"""`guifan train` and `guifan scenario`: practice against simulated customers (docs/training.md).

Exit codes of `guifan train`: 0 the attempt passed, 1 it did not (or was abandoned), 2 bad usage:
an unknown scenario, a broken scenario or answer file. `guifan scenario validate`: 0 valid (and
its example trainees behave: the good one passes, the bad one fails), 1 the examples do not
behave, 2 not valid.
"""

from __future__ import annotations

import difflib
import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from guifan.cli import _fail, _load, err
from guifan.cli_zh import Typer
from guifan.engine import Engine
from guifan.errors import GuifanError
from guifan.rulebook import Rulebook
from guifan.scoring import Checker
from guifan.model import Role

# guifan.training (scenarios, live assist, grading) is imported by these commands only, not by
# every `guifan check` that loads this module to register them.
if TYPE_CHECKING:
    from guifan.training import Scenario, TrainingSession

QUIT_WORDS = ("/退出", "/结束", "/quit")


class TrainFormat(str, Enum):
    text = "text"
    json = "json"


def _scenarios(folders: list[Path] | None, rulebook: Rulebook) -> dict[str, Scenario]:
    from guifan.training import load_scenarios

    try:
        return load_scenarios(folders or [], rulebook)
    except GuifanError as exc:
        _fail(str(exc))


def _list(scenarios: dict[str, Scenario], rulebook: Rulebook, format: TrainFormat) -> None:
    if format is TrainFormat.json:
        rows = [{"id": s.id, "title": s.title, "difficulty": s.difficulty, "channel": s.channel.value,
                 "clauses": list(s.clauses), "persona": s.persona} for s in scenarios.values()]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"练习场景 ({len(scenarios)} 个) · 练习: guifan train 场景")
    for column in ("场景", "标题", "难度", "渠道", "训练条款"):
        table.add_column(column, no_wrap=column in ("场景", "难度", "渠道"))
    for s in scenarios.values():
        table.add_row(s.id, s.title, s.difficulty, "电话" if s.channel.value == "phone" else "在线",
                      " ".join(s.clauses))
    Console().print(table)


def _pick(scenarios: dict[str, Scenario], wanted: str) -> Scenario:
    found = scenarios.get(wanted)
    if found is None:
        like = difflib.get_close_matches(wanted, list(scenarios), n=1)
        _fail(f"没有场景 {wanted}" + (f";是否要写 {like[0]}?" if like else "") + " (guifan train --list 查看全部场景)")
    return found


def _listener(backend: str, model: Optional[Path]):
    """The recognizer of spoken answers, or a clear stop naming what is missing."""
    try:
        from guifan.audio.asr import AsrUnavailable, load_transcriber
    except ImportError:
        _fail("语音练习需要可选依赖:pip install 'guifan[audio,asr-whisper]'")
    try:
        return load_transcriber(backend, model)
    except AsrUnavailable as exc:
        _fail(exc.message)


def _speak_lines(session: TrainingSession, folder: Path) -> None:
    """The customer's lines, each said into its own WAV (01-客户.wav …), for the trainee to hear."""
    from guifan.audio.speech import SpeechUnavailable, speak

    try:
        for number, turn in enumerate(session.conversation.turns, 1):
            if turn.role is Role.CUSTOMER:
                speak(session.heard.get(number - 1, turn.text), folder / f"{number:02d}-客户.wav")
    except SpeechUnavailable as exc:
        _fail(str(exc))
    err.print(f"客户的话已朗读到 {folder}", highlight=False)


def train(
    scenario: Optional[str] = typer.Argument(None, help="场景 id (guifan train --list 查看全部场景)"),
    list_: bool = typer.Option(False, "--list", help="列出全部练习场景"),
    answers: Optional[Path] = typer.Option(
        None, "--answers", "-a", help="非交互练习:每行一句客服的回答;一行 [等待 65] 表示沉默 65 秒",
    ),
    format: TrainFormat = typer.Option(TrainFormat.text, "--format", "-f", help="成绩单格式"),
    seed: int = typer.Option(0, "--seed", help="随机种子:决定客户每句话的说法 (同一种子、同样的回答得到同样的对话)"),
    hints: Optional[bool] = typer.Option(
        None, "--hints/--no-hints", help="练习时显示实时提示 (默认:入门、进阶显示,考核不显示)",
    ),
    meaning: bool = typer.Option(
        False, "--meaning/--no-meaning",
        help="练习中识别客服的话也使用语义判断 (较慢;评分的质检始终按规则手册的设置使用)",
    ),
    scenarios_dir: Optional[list[Path]] = typer.Option(
        None, "--scenarios", "-s", help="公司自己的场景目录或文件 (同 id 的场景替换自带的),可多次指定",
    ),
    config: Optional[list[Path]] = typer.Option(None, "--config", "-c", help="公司规则手册覆盖文件 (YAML)"),
    asr: Optional[str] = typer.Option(
        None, "--asr", metavar="BACKEND",
        help="语音练习:识别录音回答 ([录音 answer.wav]) 的后端 (默认 faster-whisper;见 docs/audio-asr.md)",
    ),
    asr_model: Optional[Path] = typer.Option(None, "--asr-model", help="语音识别模型目录 (不会联网下载)"),
    speak: Optional[Path] = typer.Option(
        None, "--speak", metavar="DIR", help="语音练习:把客户说的每句话用 espeak-ng 朗读成 WAV 写到这个目录",
    ),
    reword: Optional[str] = typer.Option(
        None, "--reword", metavar="URL",
        help="可选:公司自己的大模型服务 (OpenAI 兼容接口),把客户的话换一种说法;不影响对话走向和评分",
    ),
    reword_model: str = typer.Option("default", "--reword-model", help="--reword 服务上的模型名"),
) -> None:
    """对着模拟客户练习服务规范,按质检规则评分。 Practise the standard against a simulated customer."""
    from guifan.engine.judge import ChatEndpoint
    from guifan.training import AnswerError, TrainingSession, grade, read_answers
    from guifan.training.answers import Spoken
    from guifan.training.report import render_card
    from guifan.training.voice import ModelVoice

    rulebook = _load(config)
    scenarios = _scenarios(scenarios_dir, rulebook)
    if list_:
        _list(scenarios, rulebook, format)
        return
    if scenario is None:
        _fail("请给出场景 id (guifan train --list 查看全部场景)")
    chosen = _pick(scenarios, scenario)
    script = None
    if answers is not None:
        try:
            script = read_answers(answers)
        except AnswerError as exc:
            _fail(str(exc))
    engine = Engine(rulebook)
    show_hints = hints if hints is not None else chosen.difficulty != "考核"
    listener = None
    if asr is not None or any(isinstance(a, Spoken) for a in script or ()):
        listener = _listener(asr or "faster-whisper", asr_model)
    voice = ModelVoice(ChatEndpoint(reword, reword_model)) if reword else None
    session = TrainingSession(chosen, engine, seed=seed, hints=show_hints, meaning=meaning, listener=listener,
                              recordings=answers.parent if answers is not None else None, voice=voice)
    if script is None:
        _practise(session, rulebook)
    else:
        unused = 0
        for answer in script:
            if session.finished:
                unused += 1
                continue
            try:
                session.answer(answer)
            except AnswerError as exc:
                _fail(str(exc))
        if unused:
            err.print(f"客户已结束对话,余下 {unused} 行回答未使用", highlight=False)
    if voice is not None and voice.failure:
        err.print(voice.failure, highlight=False)
    if speak is not None:
        _speak_lines(session, speak)
    checker = Checker(engine)
    card = grade(session, checker)
    if format is TrainFormat.json:
        typer.echo(json.dumps(card.to_dict(checker), ensure_ascii=False, indent=2))
    else:
        render_card(card, rulebook, sys.stdout)
    raise typer.Exit(0 if card.passed else 1)


def _practise(session: TrainingSession, rulebook: Rulebook) -> None:
    """The interactive practice: the customer's lines, the trainee's replies, hints when on."""
    from guifan.training import OUTCOME_LABELS, AnswerError, Progress, parse_answer
    from guifan.training.report import scenario_header, turn_line

    console = Console(highlight=False)
    for line in scenario_header(session.scenario, rulebook):
        console.print(line)
    console.print(Text("  每次输入一句回答;[等待 秒数] 表示沉默;/退出 结束练习 (按中途放弃评分)。", style="dim"))
    progress = session.opening()
    while True:
        for index, text in progress.customer:
            console.print(turn_line("customer", text, index))
        if progress.finished:
            console.print(Text(f"对话结束:{OUTCOME_LABELS[session.outcome]}", style="bold"))
            return
        for hint in progress.hints:
            line = Text.assemble(("  提示 ", "bold yellow"), (" ".join(hint["clauses"]) + " ", "cyan"), hint["message"])
            if hint["wording"]:
                line.append(f"  「{hint['wording'][0]}」", style="green")
            console.print(line)
        try:
            typed = console.input("[bold blue]客服> [/]")
        except EOFError:
            return
        if typed.strip() in QUIT_WORDS:
            return
        try:
            progress = session.answer(parse_answer(typed))
        except AnswerError as exc:
            console.print(Text(f"  {exc}", style="red"))
            progress = Progress(hints=progress.hints)


scenario_app = Typer(help="练习场景:校验场景文件。 Training scenarios.", no_args_is_help=True)


@scenario_app.command("validate")
def scenario_validate(
    files: list[Path] = typer.Argument(..., help="场景文件 (YAML)"),
    play: bool = typer.Option(True, "--play/--no-play", help="用文件中的示例回答 (examples) 试练:好的须通过,差的须不通过"),
    config: Optional[list[Path]] = typer.Option(None, "--config", "-c", help="公司规则手册覆盖文件 (YAML)"),
) -> None:
    """校验场景文件,并用示例回答试练。 Validate scenario files and play their examples."""
    from guifan.training import OUTCOME_LABELS, behaves, play_examples, read_scenario

    rulebook = _load(config)
    read = []
    for path in files:
        try:
            read.append(read_scenario(path, rulebook))
        except GuifanError as exc:
            _fail(str(exc))
    misbehaving = 0
    checker = Checker(Engine(rulebook)) if play and any(s.examples for s in read) else None
    for scenario in read:
        typer.echo(f"场景有效: {scenario.source} ({scenario.id} {scenario.title})")
        if checker is None:
            continue
        for side, card in play_examples(scenario, checker):
            label = {"good": "好的示例", "bad": "差的示例"}[side]
            verdict = f"{'通过' if card.passed else '未通过'},得分 {card.score:g},{OUTCOME_LABELS[card.outcome]}"
            if behaves(side, card):
                typer.echo(f"  {label}: {verdict}")
            else:
                misbehaving += 1
                why = "应通过" if side == "good" else "应在训练条款上不通过"
                err.print(f"  {label}: {verdict} ({why})", highlight=False)
                for item in card.checklist:
                    if not item.done:
                        err.print(f"    ✗ {item.step}: {item.problem}", highlight=False)
                for finding in card.result.findings:
                    err.print(f"    {finding.rule} {' '.join(finding.clauses)}: {finding.message}", highlight=False)
    raise typer.Exit(1 if misbehaving else 0)
