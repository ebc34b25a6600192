"""Benchmark: speech recognition on synthesized call recordings, through the whole `guifan check` path.

    python bench/bench_asr.py                           # all scripts, faster-whisper (packaged base)
    python bench/bench_asr.py --limit 2                 # a quick run: one good and one bad script
    python bench/bench_asr.py --args "--asr-segmentation turn"         # compare a CLI variant
    python bench/bench_asr.py --args --asr-prompt --scripts good-bill,bad-hold --rates 8000
    python bench/bench_asr.py --funasr-model /opt/models/funasr --sherpa-model /opt/models/sherpa
    python bench/bench_asr.py --repeat 3 --json         # best-of-3 timing, figures as JSON
    python bench/bench_asr.py --save figures.json       # the table, and the JSON (per call too) in a file
    python bench/bench_asr.py --details                 # every script turn next to what was heard

Synthesizes two-channel call recordings from known scripts (espeak-ng + sox through
tests/audio/synth.py; agent on channel 1, customer on channel 2): good calls that follow the
customer-service standard and bad calls that break it (no greeting, forbidden phrases, no
closing, ignored thanks, holds without asking or thanking). Each script is spoken at the synth's
default pace and 1.3x faster, and written at 16 kHz and 8 kHz. The recordings, their ground truth
(turn times and words) and the same conversations as JSONL transcripts ("the scripts") are cached
in --workdir (default: <tmp>/guifan-bench-asr) and rebuilt only when a script or the synthesis
changes; each run's links and JSON reports go to a new folder under --workdir/runs.

For each backend (faster-whisper always; funasr and sherpa-onnx when their model folders are
given) it runs, as a subprocess, `guifan check <folder of wavs> --asr BACKEND --format json -o
FILE` (plus --args), once per sample rate x speed group, and checks the scripts with `guifan check
<folder of transcripts> --format json`. It prints, overall and split by rate, speed and good/bad:

* CER: character error rate of the recognized agent and customer text against the script.
  Text is normalized (NFKC, lower case, Traditional -> Simplified, letters and digits only);
  every recognized turn is aligned to the script turn of the same speaker it overlaps most in
  time; the script turn is compared with the recognized turns aligned to it, joined in time order.
  CER = edit distance / script characters over all turns: a script turn nothing was aligned to
  counts all its characters as deletions, a recognized turn overlapping no script turn counts
  all its characters as insertions.
* empty: share of the recognized turns returned without words (未识别); missed: share of the
  script turns with no recognized characters at all. Also counted: "looped" turns (a piece of
  text three times in a row, a decoding loop), turns the recognizer marked doubtful, and the
  mean confidence it gave.
* clause recall and false findings, per conversation, comparing the clauses with a finding from
  the audio to those with a finding from the script. "scored" counts findings that count in
  the score (needs_review false) on both sides, "review" findings marked 待复核 on both sides,
  "any" all findings. recall = script clauses also found from audio / script clauses; false =
  clauses found from audio (scored, resp. review) that the script check did not find at all.
  The voice rules VOC001-VOC003 need measurements a transcript has not got and are left out.
* RTF: the guifan process's CPU time (user + sys of the child, and of the decoding workers of
  `--jobs N` it waits for) and wall time divided by the seconds of audio; best of --repeat runs. Includes starting Python and loading the model once
  per group. guifan's recognizer uses every core unless told otherwise (`--args "--asr-threads
  1"` for one). Rows mixing good and bad calls share a process, so they have no time of their own.
  Figures other than time come from the first run; calls whose text differed between repeats
  are listed.

Needs the report's per-conversation `turns` (conversations[].turns[]); with an older guifan whose
report has none, the turns are read from a `--state` file written by the same run instead.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "audio"))

import synth  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Scripts. A line is ("A", text) for the agent, ("C", text) for the customer, ("hold", seconds)
# for hold music on the agent's line, or ("wait", seconds) for silence. Digits are written as
# Chinese words so that the recognizer's choice of numerals does not count as an error. The
# comment of each bad call names the clauses it is meant to break.

SCRIPTS: dict[str, list[tuple[str, Any]]] = {
    "good-broadband": [
        ("A", "您好,很高兴为您服务,请问有什么可以帮您"),
        ("C", "我家的宽带从昨天开始就一直断线,晚上根本打不开网页"),
        ("A", "非常抱歉给您添麻烦了,您的意思是家里的宽带从昨天开始经常断线,对吗"),
        ("C", "对,就是这样"),
        ("A", "请您稍等,我帮您查询一下"),
        ("hold", 8.0),
        ("A", "感谢您的耐心等待,维修师傅明天上午会上门处理"),
        ("C", "好的,谢谢"),
        ("A", "不客气,已经为您登记了维修,请问还有其他可以帮您的吗"),
        ("C", "没有了"),
        ("A", "感谢您的来电,祝您生活愉快,再见"),
    ],
    "good-bill": [
        ("A", "您好,请问有什么可以帮您"),
        ("C", "我这个月的话费比平时多了很多,想问一下是怎么回事"),
        ("A", "不好意思给您带来困扰了,您是想查询这个月话费多出来的原因,对吗"),
        ("C", "是的"),
        ("A", "好的,请您稍等,我帮您核实一下账单"),
        ("hold", 7.0),
        ("A", "感谢您的耐心等待,多出来的是流量费用,您上个月的流量超出了套餐"),
        ("C", "原来是这样,那有没有更合适的套餐"),
        ("A", "有的,我可以帮您换成流量更多的套餐,下个月生效"),
        ("C", "好的,麻烦你了,谢谢"),
        ("A", "不客气,这是我应该做的。已经为您办理了套餐变更,请问还有其他可以帮您的吗"),
        ("C", "没有了"),
        ("A", "感谢您的来电,再见"),
    ],
    "good-delivery": [
        ("A", "您好,很高兴为您服务,请问有什么可以帮您"),
        ("C", "我买的东西一个星期了还没收到,太慢了"),
        ("A", "非常抱歉让您久等了,请问您是用现在这个手机号下的订单吗"),
        ("C", "对,就是这个号码"),
        ("A", "您的意思是订单一直没有收到,想知道包裹现在到哪里了,对吗"),
        ("C", "对"),
        ("A", "请您稍等,我帮您查询一下物流"),
        ("hold", 8.0),
        ("A", "感谢您的耐心等待,包裹已经到了您所在的城市,明天就能送到"),
        ("C", "好的,谢谢"),
        ("A", "不客气,已经为您催促了快递公司,请问还有其他可以帮您的吗"),
        ("C", "没有了"),
        ("A", "感谢您的来电,祝您生活愉快,再见"),
    ],
    "good-account": [
        ("A", "您好,请问有什么可以帮您"),
        ("C", "我的账户登录不上去了,一直提示密码错误"),
        ("A", "非常抱歉给您带来不便,您是说账户登录时提示密码错误,对吗"),
        ("C", "对"),
        ("A", "请您稍等,我帮您查看一下账户状态"),
        ("hold", 6.0),
        ("A", "感谢您的耐心等待,您的账户因为多次输入错误被锁定了,我已经为您解锁"),
        ("C", "太好了,谢谢你"),
        ("A", "不客气,请问还有其他可以帮您的吗"),
        ("C", "没有了"),
        ("A", "感谢您的来电,再见"),
    ],
    # No greeting (S-A1), shirking and sending the customer off (S-F6), no closing (S-A9).
    "bad-no-greeting": [
        ("A", "喂,什么事"),
        ("C", "我想问一下我的快递怎么还没到"),
        ("A", "快递的事情这不归我们管"),
        ("C", "那我应该找谁"),
        ("A", "你自己去问问快递公司吧"),
        ("C", "好吧"),
        ("A", "就这样吧"),
    ],
    # Shirking (S-F6), refusal without reason (S-E2), no apology on a complaint (S-D1), no closing.
    "bad-shirking": [
        ("A", "您好,请问有什么可以帮您"),
        ("C", "我的宽带又断了,这已经是第三次了"),
        ("A", "这不归我们管,是线路部门的问题"),
        ("C", "那你们能不能派人来看看"),
        ("A", "我也没办法"),
        ("C", "你们怎么这样"),
        ("A", "你自己去问问吧,再见"),
    ],
    # Silence without asking the customer to wait (S-B1/S-H6), ignored thanks (S-A11), bare closing.
    "bad-ignored-thanks": [
        ("A", "您好,请问有什么可以帮您"),
        ("C", "我想查一下我的积分还有多少"),
        ("A", "好的"),
        ("wait", 12.0),
        ("A", "您的积分还有两千分"),
        ("C", "好的,谢谢"),
        ("A", "请问还有其他问题吗"),
        ("C", "没有了"),
        ("A", "再见"),
    ],
    # Blaming (S-F3), impatience (S-F7), grumbling (S-F4), "don't know" without follow-up (S-E1).
    "bad-impatience": [
        ("A", "您好,请问有什么可以帮您"),
        ("C", "我的手机为什么一直没有信号"),
        ("A", "你是不是搞错了,别人都是好的"),
        ("C", "我没有搞错,真的没有信号"),
        ("A", "知道了知道了,我不是已经说了吗"),
        ("C", "那到底什么时候能好"),
        ("A", "不知道,你再等等吧"),
        ("C", "好吧"),
        ("A", "再见"),
    ],
    # A complaint without apology, record or time frame (S-D1-S-D3), "don't know" (S-E1).
    "bad-complaint": [
        ("A", "您好,很高兴为您服务,请问有什么可以帮您"),
        ("C", "你们的维修师傅约好了今天上午来,到现在都没来,我要投诉"),
        ("A", "师傅今天比较忙"),
        ("C", "那我还要等多久"),
        ("A", "不清楚,下午应该会来吧"),
        ("C", "你们的服务太差了"),
        ("A", "请问还有其他可以帮您的吗"),
        ("C", "没有了"),
        ("A", "感谢您的来电,再见"),
    ],
    # A hold without asking (S-B1) and without thanks after it (S-B2), ignored thanks (S-A11).
    "bad-hold": [
        ("A", "您好,请问有什么可以帮您"),
        ("C", "我想把套餐改成便宜一点的"),
        ("A", "您是想把现在的套餐换成费用更低的套餐,对吗"),
        ("C", "是的"),
        ("A", "我查一下"),
        ("hold", 10.0),
        ("A", "可以换成每月五十元的套餐"),
        ("C", "好的,那就换吧,谢谢"),
        ("A", "已经为您换好了,请问还有其他可以帮您的吗"),
        ("C", "没有了"),
        ("A", "感谢您的来电,再见"),
    ],
}

SPEEDS = {"normal": 1.0, "fast": 1.3}  # x the synth's per-role pace (agent 165, customer 210 wpm)
RATES = (16000, 8000)
LEAD = 1.0  # seconds of line noise before the first word
GAP = 0.7  # between turns of different speakers
SAME_SPEAKER_GAP = 1.5  # above the front end's 0.8 s turn gap: consecutive lines stay separate turns
HOLD_MARGIN = 0.8  # between speech and hold music
BENCH_VERSION = 1  # bump when the layout changes, to rebuild cached recordings
AUDIO_ONLY_RULES = frozenset({"VOC001", "VOC002", "VOC003"})  # need voice measurements: not in a transcript
BACKEND_ORDER = ("faster-whisper", "funasr", "sherpa-onnx")
BACKEND_PACKAGES = {"faster-whisper": "faster_whisper", "funasr": "funasr_onnx", "sherpa-onnx": "sherpa_onnx"}


@dataclass(frozen=True)
class ScriptTurn:
    role: str  # "agent" / "customer"
    start: float
    end: float
    text: str


@dataclass
class Call:
    stem: str  # the conversation id: "<script>_<speed>_<rate>k"
    script: str
    speed: str
    rate: int
    wav: Path
    duration: float
    truth: list[ScriptTurn]

    @property
    def group(self) -> str:
        return f"{self.rate // 1000}k-{self.speed}"

    @property
    def kind(self) -> str:
        return self.script.split("-", 1)[0]  # "good" / "bad"


# ---------------------------------------------------------------------------------------------
# Synthesis


def _utterance(role: str, text: str, speed: str) -> synth.Utterance:
    pace = round(synth.VOICES[role][1] * SPEEDS[speed])
    return synth.Utterance(role, 0.0, text, speed=0 if SPEEDS[speed] == 1.0 else pace)


def layout(lines: Sequence[tuple[str, Any]], speed: str) -> list:
    """The script's lines as synth items placed one after another (lengths from the 16 kHz synthesis)."""
    items: list = []
    at = LEAD
    last_role: str | None = None
    for kind, value in lines:
        if kind in ("A", "C"):
            role = "agent" if kind == "A" else "customer"
            if last_role is not None:
                at += SAME_SPEAKER_GAP if role == last_role else GAP
            utt = _utterance(role, value, speed)
            utt = synth.Utterance(utt.role, round(at, 3), utt.text, speed=utt.speed)
            items.append(utt)
            at += synth.synthesize(utt, 16000).size / 16000
            last_role = role
        elif kind == "hold":
            at += HOLD_MARGIN
            items.append(synth.Tone("agent", round(at, 3), float(value), "music"))
            at += float(value) + HOLD_MARGIN - GAP  # the next line adds its own gap
        elif kind == "wait":
            at += float(value) - GAP
        else:
            raise ValueError(f"unknown script line {kind!r}")
    return items


def build_calls(workdir: Path, scripts: Sequence[str]) -> list[Call]:
    """Every script x speed x rate as a WAV in workdir/cache, reused while its recipe is unchanged."""
    cache = workdir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    calls: list[Call] = []
    for name in scripts:
        for speed in SPEEDS:
            items = None
            for rate in RATES:
                stem = f"{name}_{speed}_{rate // 1000}k"
                wav, meta = cache / f"{stem}.wav", cache / f"{stem}.json"
                recipe = json.dumps([BENCH_VERSION, synth.CACHE_VERSION, synth._tool_versions(), synth.VOICES,
                                     SCRIPTS[name], SPEEDS[speed], rate, LEAD, GAP, SAME_SPEAKER_GAP, HOLD_MARGIN],
                                    ensure_ascii=False)
                key = hashlib.sha256(recipe.encode()).hexdigest()
                record = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}
                if record.get("key") != key or not wav.exists():
                    items = items if items is not None else layout(SCRIPTS[name], speed)
                    partial = wav.with_suffix(f".{os.getpid()}.tmp.wav")
                    placed = synth.build_call(items, partial, sample_rate=rate)
                    os.replace(partial, wav)  # atomic: a concurrent bench never reads half a file
                    truth = [ScriptTurn(p.role, round(p.start, 3), round(p.end, 3), p.text)
                             for p in placed if p.kind == "speech"]
                    duration = max(p.end for p in placed) + 1.0
                    record = {"key": key, "duration": round(duration, 3), "truth": [t.__dict__ for t in truth]}
                    tmp = meta.with_suffix(".tmp")
                    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
                    os.replace(tmp, meta)
                truth = [ScriptTurn(**t) for t in record["truth"]]
                calls.append(Call(stem, name, speed, rate, wav, record["duration"], truth))
    return calls


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def stage(run: Path, calls: Sequence[Call]) -> tuple[dict[str, Path], Path]:
    """Folders of this run: one per rate x speed group holding its WAVs (hard links into the cache),
    and one with every call's script as a JSONL transcript."""
    groups: dict[str, Path] = {}
    scripts = run / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    for call in calls:
        folder = groups.setdefault(call.group, run / call.group)
        folder.mkdir(exist_ok=True)
        _link(call.wav, folder / call.wav.name)
        record = {
            "id": call.stem,
            "channel": "phone",
            "turns": [{"role": t.role, "text": t.text, "start": t.start, "end": t.end} for t in call.truth],
        }
        (scripts / f"{call.stem}.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return dict(sorted(groups.items(), key=lambda kv: (-int(kv[0].split("k")[0]), kv[0]))), scripts


# ---------------------------------------------------------------------------------------------
# Running guifan


@dataclass
class Run:
    cpu: float
    wall: float
    returncode: int
    report: dict | None
    stderr: str


def guifan_command() -> list[str]:
    exe = shutil.which("guifan")
    return [exe] if exe else [sys.executable, "-m", "guifan"]


def guifan_version() -> str:
    """The checkout the run measured: commit, and whether files were modified."""
    done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def run_check(paths: Sequence[Path], out: Path, extra: Sequence[str]) -> Run:
    """`guifan check PATHS --format json -o OUT EXTRA` as a child process, timed."""
    cmd = [*guifan_command(), "check", *map(str, paths), "--format", "json", "-o", str(out), "--no-progress", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = None
    if done.returncode in (0, 1) and out.exists():
        report = json.loads(out.read_text(encoding="utf-8"))
    return Run(cpu, wall, done.returncode, report, done.stderr)


def turns_from_state(path: Path) -> dict[str, list[dict]]:
    """Turns of each conversation from a --state file (conversation.to_dict()), in report shape."""
    found: dict[str, list[dict]] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        conversation = json.loads(line)["conversation"]
        turns = []
        for index, turn in enumerate(conversation["turns"]):
            turns.append({
                "index": index, "role": turn["role"], "text": turn["text"], "start": turn.get("start"),
                "end": turn.get("end"), "unrecognized": not turn["text"].strip(), "asr": turn.get("asr"),
            })
        found[conversation["id"]] = turns
    return found


# ---------------------------------------------------------------------------------------------
# Figures

_T2S = None


def normalize(text: str) -> str:
    """Letters and digits only, NFKC, lower case, Simplified."""
    global _T2S
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    text = _T2S.convert(unicodedata.normalize("NFKC", text).lower())
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


try:  # rapidfuzz when installed, else a small dynamic programme
    from rapidfuzz.distance import Levenshtein as _Lev

    def edit_distance(a: str, b: str) -> int:
        return _Lev.distance(a, b)

    LEVENSHTEIN = "rapidfuzz"
except ImportError:  # pragma: no cover - depends on the environment

    def edit_distance(a: str, b: str) -> int:
        if len(a) < len(b):
            a, b = b, a
        previous = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            current = [i]
            for j, cb in enumerate(b, 1):
                current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
            previous = current
        return previous[-1]

    LEVENSHTEIN = "dynamic programme"

_LOOPED = re.compile(r"(.{1,20}?)\1{2,}")  # a piece said three times in a row: a decoding loop


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


@dataclass
class Aligned:
    """One script turn with the recognized text aligned to it."""

    role: str
    ref: str  # the script's words
    hyp: str  # recognized, joined
    ref_n: str
    hyp_n: str
    edits: int


@dataclass
class CallFigures:
    aligned: list[Aligned] = field(default_factory=list)
    inserted: list[tuple[str, str]] = field(default_factory=list)  # (role, text) of unaligned recognized turns
    heard: int = 0  # recognized agent/customer turns
    empty: int = 0  # of them returned without words
    looped: list[str] = field(default_factory=list)
    doubtful: int = 0  # recognized turns the recognizer marked doubtful
    confidences: list[float] = field(default_factory=list)


def align(call: Call, turns: Sequence[dict]) -> CallFigures:
    figures = CallFigures()
    buckets: list[list[tuple[float, str]]] = [[] for _ in call.truth]
    for turn in turns:
        if turn.get("role") not in ("agent", "customer"):
            continue
        text = turn.get("text") or ""
        figures.heard += 1
        if turn.get("unrecognized") or not text.strip():
            figures.empty += 1
        asr = turn.get("asr") or {}
        if asr.get("confidence") is not None:
            figures.confidences.append(asr["confidence"])
        figures.doubtful += bool(asr.get("doubtful"))
        if _LOOPED.search(normalize(text)):
            figures.looped.append(text)
        start, end = turn.get("start"), turn.get("end")
        best, best_overlap = None, 0.0
        if start is not None and end is not None:
            for i, ref in enumerate(call.truth):
                if ref.role == turn["role"]:
                    shared = overlap(start, end, ref.start, ref.end)
                    if shared > best_overlap:
                        best, best_overlap = i, shared
        if best is None:
            if normalize(text):
                figures.inserted.append((turn["role"], text))
        else:
            buckets[best].append((start, text))
    for ref, bucket in zip(call.truth, buckets):
        hyp = " ".join(text for _, text in sorted(bucket, key=lambda b: b[0]))
        ref_n, hyp_n = normalize(ref.text), normalize(hyp)
        figures.aligned.append(Aligned(ref.role, ref.text, hyp, ref_n, hyp_n, edit_distance(ref_n, hyp_n)))
    return figures


KINDS = ("scored", "review", "any")


def finding_label(finding: dict) -> str:
    """The finding as rule:clauses, e.g. FBD006:S-F6, with "?" when it is 待复核."""
    return f"{finding['rule']}:{'/'.join(finding['clauses'])}{'?' if finding.get('needs_review') else ''}"


def text_findings(conversation: dict | None) -> list[str]:
    """Labels of the conversation's findings, the voice rules left out."""
    findings = (conversation or {}).get("findings", [])
    return sorted(finding_label(f) for f in findings if f["rule"] not in AUDIO_ONLY_RULES)


def clause_sets(conversation: dict | None) -> dict[str, set[str]]:
    sets: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for finding in (conversation or {}).get("findings", []):
        if finding["rule"] in AUDIO_ONLY_RULES:
            continue
        clauses = set(finding["clauses"])
        sets["review" if finding.get("needs_review") else "scored"] |= clauses
        sets["any"] |= clauses
    return sets


@dataclass
class Tally:
    calls: int = 0
    audio: float = 0.0
    edits: dict[str, int] = field(default_factory=lambda: {"agent": 0, "customer": 0})
    chars: dict[str, int] = field(default_factory=lambda: {"agent": 0, "customer": 0})
    script_turns: int = 0
    missed: int = 0
    heard: int = 0
    empty: int = 0
    looped: int = 0
    doubtful: int = 0
    inserted_turns: int = 0
    confidences: list[float] = field(default_factory=list)
    ref_clauses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    recalled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    false: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    cpu: float | None = 0.0
    wall: float | None = 0.0

    def add(self, call: Call, figures: CallFigures, script: dict[str, set[str]], heard: dict[str, set[str]]) -> None:
        self.calls += 1
        self.audio += call.duration
        for item in figures.aligned:
            self.edits[item.role] += item.edits
            self.chars[item.role] += len(item.ref_n)
            self.script_turns += 1
            self.missed += not item.hyp_n
        for role, text in figures.inserted:
            self.edits[role] += len(normalize(text))
        self.inserted_turns += len(figures.inserted)
        self.heard += figures.heard
        self.empty += figures.empty
        self.looped += len(figures.looped)
        self.doubtful += figures.doubtful
        self.confidences += figures.confidences
        for kind in KINDS:
            self.ref_clauses[kind] += len(script[kind])
            self.recalled[kind] += len(script[kind] & heard[kind])
            self.false[kind] += len(heard[kind] - script["any"])

    def cer(self, role: str | None = None) -> float | None:
        roles = [role] if role else ["agent", "customer"]
        chars = sum(self.chars[r] for r in roles)
        return sum(self.edits[r] for r in roles) / chars if chars else None

    def as_dict(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "calls": self.calls,
            "audio_seconds": round(self.audio, 1),
            "cer": _round(self.cer()),
            "cer_agent": _round(self.cer("agent")),
            "cer_customer": _round(self.cer("customer")),
            "script_chars": sum(self.chars.values()),
            "edits": sum(self.edits.values()),
            "script_turns": self.script_turns,
            "missed_turns": self.missed,
            "missed_share": ratio(self.missed, self.script_turns),
            "recognized_turns": self.heard,
            "empty_turns": self.empty,
            "empty_share": ratio(self.empty, self.heard),
            "unaligned_turns": self.inserted_turns,
            "looped_turns": self.looped,
            "doubtful_turns": self.doubtful,
            "mean_confidence": _round(statistics.fmean(self.confidences)) if self.confidences else None,
            "clauses": {
                kind: {"script": self.ref_clauses[kind], "recalled": self.recalled[kind],
                       "recall": ratio(self.recalled[kind], self.ref_clauses[kind]), "false": self.false[kind]}
                for kind in KINDS
            },
            "cpu_seconds": _round(self.cpu, 2),
            "wall_seconds": _round(self.wall, 2),
            "rtf_cpu": ratio(self.cpu, self.audio) if self.cpu is not None else None,
            "rtf_wall": ratio(self.wall, self.audio) if self.wall is not None else None,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------------------------------
# Main


def slices(call: Call) -> list[str]:
    """The rows of the table a call counts in."""
    return ["all", f"{call.rate // 1000}k", call.speed, call.group, call.kind]


ROW_ORDER = ["all", "16k", "8k", "normal", "fast", "16k-normal", "16k-fast", "8k-normal", "8k-fast", "good", "bad"]


def backends_to_run(args: argparse.Namespace) -> tuple[list[tuple[str, str | None]], list[str]]:
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    models = {"faster-whisper": args.whisper_model, "funasr": args.funasr_model, "sherpa-onnx": args.sherpa_model}
    run, skipped = [], []
    for backend in BACKEND_ORDER:
        if backend not in wanted:
            continue
        installed = importlib.util.find_spec(BACKEND_PACKAGES[backend]) is not None
        if backend != "faster-whisper" and models[backend] is None:
            flag = "--funasr-model" if backend == "funasr" else "--sherpa-model"
            state = "installed" if installed else "not installed"
            skipped.append(f"{backend}: skipped, no model folder given ({flag} DIR; "
                           f"package {BACKEND_PACKAGES[backend]} {state})")
        elif not installed:
            skipped.append(f"{backend}: skipped, package {BACKEND_PACKAGES[backend]} is not installed")
        else:
            run.append((backend, models[backend]))
    return run, skipped


def _glue(argv: Sequence[str], options: Sequence[str]) -> list[str]:
    """`--args --no-asr-prompt` as `--args=--no-asr-prompt`: argparse would take the value for an option."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in options:
            value = next(it, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "guifan-bench-asr",
                        help="where recordings, scripts and reports are kept (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None,
                        help="only N scripts, good and bad in turn (each x 2 speeds x 2 rates)")
    parser.add_argument("--scripts", default="", help="comma-separated script names (default: all)")
    parser.add_argument("--speeds", default=",".join(SPEEDS), help="comma-separated: normal,fast")
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES), help="comma-separated: 16000,8000")
    parser.add_argument("--repeat", type=int, default=1, help="runs per group for timing (figures from the first)")
    parser.add_argument("--args", default="", help="extra arguments for the audio runs of guifan check, one string")
    parser.add_argument("--common-args", default="", help="extra arguments for both the audio and the script checks")
    parser.add_argument("--backends", default=",".join(BACKEND_ORDER))
    parser.add_argument("--whisper-model", default=None,
                        help="a CTranslate2 Whisper folder (default: the packaged base)")
    parser.add_argument("--funasr-model", default=None, help="--asr-model folder for funasr")
    parser.add_argument("--sherpa-model", default=None, help="--asr-model folder for sherpa-onnx")
    parser.add_argument("--details", action="store_true", help="print every script turn next to what was recognized")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--save", type=Path, default=None, help="also write the figures as JSON to this file")
    args = parser.parse_args(_glue(sys.argv[1:], ("--args", "--common-args")))

    say = (lambda *a, **k: print(*a, **k, file=sys.stderr)) if args.json else print
    names = [s for s in args.scripts.split(",") if s] or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        parser.error(f"unknown scripts {unknown}; known: {', '.join(SCRIPTS)}")
    if args.limit:  # good and bad calls in turn, so that a quick run has both
        good, bad = [n for n in names if n.startswith("good")], [n for n in names if not n.startswith("good")]
        mixed = [n for pair in zip(good, bad) for n in pair] + good[len(bad):] + bad[len(good):]
        names = mixed[: args.limit]
    speeds = [s for s in args.speeds.split(",") if s]
    rates = [int(r) for r in args.rates.split(",") if r]
    extra, common = shlex.split(args.args), shlex.split(args.common_args)
    workdir = args.workdir.resolve()

    started = time.perf_counter()
    calls = [c for c in build_calls(workdir, names) if c.speed in speeds and c.rate in rates]
    say(f"{len(calls)} recordings ({len(names)} scripts x {len(speeds)} speeds x {len(rates)} rates), "
        f"{sum(c.duration for c in calls):.0f} s of audio, built or reused in {time.perf_counter() - started:.1f} s "
        f"under {workdir}")
    # Each bench run has its own folder of links and reports, so runs may share a --workdir.
    (workdir / "runs").mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=workdir / "runs"))
    say(f"reports of this run: {run_dir}")
    groups, scripts_dir = stage(run_dir, calls)
    by_stem = {c.stem: c for c in calls}

    # The scripts, checked as transcripts: the reference findings.
    script_run = run_check([scripts_dir], run_dir / "scripts.json", common)
    if script_run.report is None:
        say(f"script check failed ({script_run.returncode}): {script_run.stderr.strip()}")
        sys.exit(1)
    script_convs = {c["id"]: c for c in script_run.report["conversations"]}
    script_clauses = {stem: clause_sets(script_convs.get(stem)) for stem in by_stem}
    has_turns = all("turns" in c for c in script_run.report["conversations"])  # the report shape of this guifan
    if not has_turns:
        say("note: this guifan's JSON report has no conversations[].turns; "
            "the turns are read from a --state file of each run")

    to_run, skipped = backends_to_run(args)
    for line in skipped:
        say(line)
    results: dict[str, Any] = {
        "guifan": guifan_version(),
        "levenshtein": LEVENSHTEIN,
        "args": extra,
        "common_args": common,
        "skipped": skipped,
        # One rate is enough: the scripts of the two rates are the same words at the same times.
        "script_findings": {stem: text_findings(script_convs.get(stem)) for stem in by_stem
                            if stem.endswith(f"_{rates[0] // 1000}k")},
        "backends": {},
    }
    if not args.json:
        print("\nscript findings (from the transcripts; ? = 待复核; voice rules left out):")
        for stem, found in results["script_findings"].items():
            print(f"  {stem:<32} {' '.join(found) or '-'}")

    for backend, model in to_run:
        command_extra = ["--asr", backend, *(["--asr-model", model] if model else []), *common, *extra]
        tallies: dict[str, Tally] = {row: Tally() for row in ROW_ORDER}
        timings: dict[str, list[dict]] = {}
        details: dict[str, Any] = {}
        unstable: list[str] = []
        failed = False
        for group, folder in groups.items():
            texts_by_repeat: list[dict[str, list[str]]] = []
            first: Run | None = None
            first_turns: dict[str, list[dict]] = {}
            for repeat in range(max(1, args.repeat)):
                out = run_dir / f"{backend}-{group}-{repeat}.json"
                state = run_dir / f"{backend}-{group}-{repeat}.state.jsonl"
                run = run_check([folder], out, command_extra + ([] if has_turns else ["--state", str(state)]))
                say(f"{backend} {group} run {repeat + 1}: cpu {run.cpu:.1f} s, wall {run.wall:.1f} s, "
                    f"exit {run.returncode}")
                if run.report is None:
                    say(f"  guifan check failed ({run.returncode}):\n{run.stderr.strip()[-2000:]}")
                    failed = True
                    break
                turns = ({c["id"]: c.get("turns", []) for c in run.report["conversations"]} if has_turns
                         else turns_from_state(state))
                texts_by_repeat.append({k: [t.get("text", "") for t in v] for k, v in turns.items()})
                timings.setdefault(group, []).append({"cpu": round(run.cpu, 2), "wall": round(run.wall, 2)})
                if first is None:
                    first, first_turns = run, turns
            if failed or first is None:
                break
            for stem in texts_by_repeat[0]:
                if any(r.get(stem) != texts_by_repeat[0][stem] for r in texts_by_repeat[1:]):
                    unstable.append(stem)
            audio_convs = {c["id"]: c for c in first.report["conversations"]}
            for error in first.report["summary"].get("errors", []):
                say(f"  unreadable: {error.get('path')}: {error.get('message')}")
            best_cpu = min(t["cpu"] for t in timings[group])
            best_wall = min(t["wall"] for t in timings[group])
            for row in ROW_ORDER:  # a group's time counts in each row made only of whole groups
                rows_groups = {c.group for c in calls if row in slices(c)}
                if group in rows_groups and tallies[row].cpu is not None:
                    if all(row in slices(c) for c in calls if c.group == group):
                        tallies[row].cpu += best_cpu
                        tallies[row].wall += best_wall
                    else:
                        tallies[row].cpu = tallies[row].wall = None  # good/bad share a process: no split
            for call in (c for c in calls if c.group == group):
                figures = align(call, first_turns.get(call.stem, []))
                heard = clause_sets(audio_convs.get(call.stem))
                for row in slices(call):
                    tallies[row].add(call, figures, script_clauses[call.stem], heard)
                details[call.stem] = {
                    "turns": [{"role": a.role, "script": a.ref, "heard": a.hyp, "edits": a.edits, "chars": len(a.ref_n)}
                              for a in figures.aligned],
                    "unaligned": [{"role": r, "heard": t} for r, t in figures.inserted],
                    "looped": figures.looped,
                    "empty_turns": figures.empty,
                    "doubtful_turns": figures.doubtful,
                    "recognized_turns": figures.heard,
                    "audio_findings": text_findings(audio_convs.get(call.stem)),
                    "script_clauses": {k: sorted(v) for k, v in script_clauses[call.stem].items()},
                    "audio_clauses": {k: sorted(v) for k, v in heard.items()},
                }
        results["backends"][backend] = {
            "model": model or ("packaged Whisper base" if backend == "faster-whisper" else None),
            "command": shlex.join([*guifan_command(), "check", "DIR", "--format", "json", "-o", "OUT", "--no-progress",
                                   *command_extra]),
            "failed": failed,
            "rows": {row: t.as_dict() for row, t in tallies.items() if t.calls},
            "timings": timings,
            "unstable_between_repeats": unstable,
            "calls": details,
        }
        if not args.json:
            print_backend(backend, results["backends"][backend], args.details)

    if args.save:
        args.save.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print(f"\n(guifan {results['guifan']}; edit distance: {LEVENSHTEIN}; "
              f"wall time of the bench {time.perf_counter() - started:.0f} s)")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _fix(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_backend(backend: str, result: dict, details: bool) -> None:
    print(f"\n== {backend} ({result['model']}) ==")
    print(f"   {result['command']}")
    if result["failed"]:
        print("   (a run failed: figures below cover the groups before it)")
    header = (f"{'':<11}{'calls':>6}{'audio s':>8}{'CER':>7}{'agent':>7}{'cust':>7}{'empty':>7}{'missed':>7}"
              f"{'recall':>8}{'rev':>7}{'any':>7}{'false':>6}{'f.rev':>6}{'RTF cpu':>8}{'wall':>7}")
    print(header)
    for row, f in result["rows"].items():
        c = f["clauses"]

        def rec(kind: str) -> str:
            return _pct(c[kind]["recall"]) if c[kind]["script"] else "-"

        print(f"{row:<11}{f['calls']:>6}{f['audio_seconds']:>8.0f}{_pct(f['cer']):>7}{_pct(f['cer_agent']):>7}"
              f"{_pct(f['cer_customer']):>7}{_pct(f['empty_share']):>7}{_pct(f['missed_share']):>7}"
              f"{rec('scored'):>8}{rec('review'):>7}{rec('any'):>7}{c['scored']['false']:>6}{c['review']['false']:>6}"
              f"{_fix(f['rtf_cpu']):>8}{_fix(f['rtf_wall']):>7}")
    a = result["rows"].get("all")
    if a:
        c = a["clauses"]
        print(f"   clauses from the script: {c['scored']['script']} scored ({c['scored']['recalled']} also from "
              f"audio), {c['review']['script']} 待复核 ({c['review']['recalled']}), {c['any']['script']} any "
              f"({c['any']['recalled']}); "
              f"false from audio: {c['scored']['false']} scored, {c['review']['false']} 待复核")
        print(f"   recognized turns {a['recognized_turns']}, empty {a['empty_turns']}, looped {a['looped_turns']}, "
              f"doubtful {a['doubtful_turns']}, overlapping no script turn {a['unaligned_turns']}; "
              f"script turns {a['script_turns']}, missed "
              f"{a['missed_turns']}; mean ASR confidence {_fix(a['mean_confidence'])}")
    if result["unstable_between_repeats"]:
        print(f"   text differed between repeats: {', '.join(result['unstable_between_repeats'])}")
    if details:
        for stem, call in result["calls"].items():
            print(f"\n   {stem}")
            for t in call["turns"]:
                who = "客服" if t["role"] == "agent" else "客户"
                print(f"     {who} [{t['edits']:>2}/{t['chars']:<2}] {t['script']}\n{'':<19}→ {t['heard'] or '∅'}")
            for u in call["unaligned"]:
                print(f"     {'客服' if u['role'] == 'agent' else '客户'} [unaligned] → {u['heard']}")
            print(f"     script: {' '.join(call['script_clauses']['any']) or '-'}   audio: "
                  f"{' '.join(call['audio_findings']) or '-'}")


if __name__ == "__main__":
    main()
