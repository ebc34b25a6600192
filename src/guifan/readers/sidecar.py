"""The diarization of a mono call recording: the ASR's JSON beside it (``call.wav`` -> ``call.json``).

Any of the ASR shapes `guifan.readers.asr` reads (FunASR ``sentence_info``, Alibaba Cloud
``Sentences``, ``sentences`` / ``utterances``, WhisperX ``segments``) or interchange ``turns``;
each segment needs a speaker and start/end times, text is optional. Speakers become roles as in
the ASR transcripts (``roles``, ``agent_speaker``, role words, else the first speaker heard is the
agent). Everything is checked here, against the recording's length too, so that the audio layer
(`guifan.audio.mono`) gets segments it can use; a problem is an InputError naming the JSON file
and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guifan.audio.mono import Diarization, Segment, sidecar_path
from guifan.errors import InputError
from guifan.model import Role
from guifan.readers.asr import SHAPES, rows, speaker_roles
from guifan.readers.encoding import EncodingError, decode, line_error
from guifan.readers.fields import FieldError, build, parse_role, type_name
from guifan.readers.jsonfile import _TOO_DEEP, json_error, loads

MAX_BYTES = 100 * 1024 * 1024  # a four-hour call's diarization is a few MB
# ASR times are rounded and some engines pad the last segment: a segment may end this much after
# the recording and is cut at its end; further out, the JSON is not this recording's.
END_TOLERANCE_SECONDS = 0.5
_SHAPES = SHAPES + (("turns", "turns", False),)
_LISTS = "、".join(dict.fromkeys(key for key, _, _ in _SHAPES))


def load_diarization(recording: Path, duration: float) -> Diarization | InputError | None:
    """The diarization beside ``recording`` (``duration`` seconds long), the error in it, or None
    when there is no such file."""
    path = sidecar_path(recording)
    if not path.is_file():
        return None
    name = str(path)
    context = f"(录音 {recording.name} 的说话人分离结果)"
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return InputError(name, f"文件过大 ({size / 1024 / 1024:.1f} MB,上限 {MAX_BYTES // 1024 // 1024} MB) {context}")
        data = path.read_bytes()
    except OSError as exc:
        return InputError(name, f"无法读取文件: {exc.strerror or exc} {context}")
    if not data.strip():
        return InputError(name, f"文件为空 {context}")
    try:
        decoded = decode(data)
    except EncodingError as exc:
        return InputError(name, f"{exc.message} {context}")
    if decoded.damaged:
        return InputError(name, f"{line_error(decoded.encoding)} {context}", decoded.damaged[0])
    try:
        obj = loads(decoded.text)
    except json.JSONDecodeError as exc:
        error = json_error(name, exc)
        return InputError(name, f"{error.message} {context}", error.line)
    except RecursionError:
        return InputError(name, f"{_TOO_DEEP} {context}")
    line = _first_line(decoded.text)
    if isinstance(obj, list):  # FunASR's generate() returns a list with one result per input
        if len(obj) != 1:
            return InputError(name, f"应为一个识别结果,而不是 {len(obj)} 个 (一个 JSON 文件对应一通录音) {context}", line)
        obj = obj[0]
    if not isinstance(obj, dict):
        return InputError(name, f"应为 JSON 对象 (一个识别结果),而不是{type_name(obj)} {context}", line)
    try:
        return _diarization(obj, name, recording, duration)
    except FieldError as exc:
        return InputError(name, f"{exc.message} {context}", line, exc.key)
    except RecursionError:
        return InputError(name, f"{_TOO_DEEP} {context}", line)


def _first_line(text: str) -> int:
    stripped = text.lstrip("\ufeff \t\r\n")
    return text[: len(text) - len(stripped)].count("\n") + 1


def _diarization(obj: dict[str, Any], name: str, recording: Path, duration: float) -> Diarization:
    """FieldError's ``key`` is the field's full path here (``sentence_info[3]``, ``roles``)."""
    if not any(isinstance(obj.get(key), list) for key, _, _ in _SHAPES):
        raise FieldError(
            f"不是可识别的说话人分离结果:需要 {_LISTS} 之一的列表,每段有说话人 (speaker/spk/role …) 与开始/结束时间"
        )
    key, shape, found = rows(obj, text_required=False, shapes=_SHAPES)
    roles = _roles(obj, key, found)

    segments = []
    for speaker, text, start, end, index in found:
        where = f"{key}[{index}]"
        if start < 0:
            raise FieldError(f"开始时间 {start:g} 秒为负数", where)
        if end < start:
            raise FieldError(f"结束时间 {end:g} 秒早于开始时间 {start:g} 秒", where)
        if start >= duration or end > duration + END_TOLERANCE_SECONDS:
            raise FieldError(
                f"时间 {start:g}–{end:g} 秒超出录音 {recording.name} 的长度 {duration:.2f} 秒:"
                "请确认 JSON 与录音是同一通电话,以及时间单位 (毫秒用 \"time_unit\": \"ms\")", where,
            )
        segments.append((index, Segment(roles[speaker], start, min(end, duration), text or None, speaker)))

    # The rest (started_at, agent_id, metadata, text lengths and characters) as for any conversation.
    try:
        conversation = build({
            "id": recording.stem,
            "channel": "phone",
            "started_at": obj.get("started_at"),
            "agent_id": obj.get("agent_id"),
            "metadata": obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {},
            "turns": [{"role": s.role.value, "text": s.text or "", "start": s.start, "end": s.end} for _, s in segments],
        })
    except FieldError as exc:
        if exc.index is not None:
            index = segments[exc.index][0]
            raise FieldError(exc.message, f"{key}[{index}]" + (".text" if exc.key == "text" else "")) from exc
        raise FieldError(exc.message, key if exc.key == "turns" else exc.key) from exc
    metadata = dict(conversation.metadata)
    metadata["speakers"] = {speaker: role.value for speaker, role in roles.items()}
    if roles.guessed:
        metadata["roles_guessed"] = "first_speaker_is_agent"
    return Diarization(
        source=name,
        shape=shape,
        segments=tuple(sorted((s for _, s in segments), key=lambda s: (s.start, s.end))),
        started_at=conversation.started_at,
        agent_id=conversation.agent_id,
        metadata=metadata,
    )


class _Roles(dict):
    guessed = False


def _roles(obj: dict[str, Any], key: str, found: list) -> _Roles:
    """Speaker label -> Role; FieldError for a label without a role, a role word that is none, or
    no agent at all (a mono recording is checked for its agent: one must be named)."""
    words, guessed = speaker_roles(obj, found)
    field = "roles" if obj.get("roles") is not None else key
    roles = _Roles()
    roles.guessed = guessed
    for speaker in dict.fromkeys(speaker for speaker, *_ in found):
        word = words[speaker]
        try:
            roles[speaker] = parse_role(word)
        except FieldError:
            raise FieldError(
                f"说话人 {speaker} 的角色 {word!r} 无法识别 (应为 agent / customer / system,或 客服 / 客户 / 系统)", field
            ) from None
    if Role.AGENT not in roles.values():
        heard = "、".join(dict.fromkeys(speaker for speaker, *_ in found))
        agent = obj.get("agent_speaker", obj.get("agent_channel"))
        if agent is not None:
            which = "agent_speaker" if "agent_speaker" in obj else "agent_channel"
            raise FieldError(f"客服说话人 {agent!r} 不在 {key} 中 (其中的说话人: {heard})", which)
        raise FieldError(
            f"没有客服说话人 (说话人: {heard}):请用 \"agent_speaker\" 或 \"roles\" 指明哪个说话人是客服", field
        )
    return roles
