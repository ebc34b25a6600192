"""Contact-centre KPIs that a transcript's timestamps give: handle time, holds, silence, interruptions.

Computed per conversation for the dashboards; a conversation without turn times has no KPIs. For
a recording, holds and silence come from what the audio front end measured: hold music is a hold,
not silence, and silence is where neither line carries speech (not merely between turns).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from guifan.model import CallAudio, Conversation, Role, Turn


@dataclass(frozen=True, slots=True)
class Kpis:
    handle_seconds: float  # first turn start to last turn end
    hold_count: int  # silences of at least ``hold_seconds`` before an agent turn
    hold_seconds: float
    silence_ratio: float  # share of the handle time in which nobody speaks
    interruptions: int  # agent turns that start while the customer is still speaking

    def to_dict(self) -> dict:
        return asdict(self)


def kpis(conversation: Conversation, hold_seconds: float = 5.0, tolerance: float = 0.5) -> Kpis | None:
    turns = [t for t in conversation.turns if t.timed and t.role is not Role.SYSTEM]
    if not turns:
        return None
    start = min(t.start for t in turns)
    end = max(t.end for t in turns)
    handle = max(0.0, end - start)
    interruptions = sum(
        1 for before, turn in zip(turns, turns[1:])
        if turn.role is Role.AGENT and before.role is Role.CUSTOMER and turn.start < before.end - tolerance
    )
    if conversation.audio is not None:
        silence, waits = _recorded_waits(conversation.audio, turns, start, end, hold_seconds)
    else:
        silence, waits = _transcript_waits(turns, hold_seconds)
    return Kpis(
        handle_seconds=round(handle, 2),
        hold_count=len(waits),
        hold_seconds=round(sum(waits), 2),
        silence_ratio=round(silence / handle, 4) if handle else 0.0,
        interruptions=interruptions,
    )


def _transcript_waits(turns: list[Turn], hold_seconds: float) -> tuple[float, list[float]]:
    """Seconds between turns, and the gaps of at least ``hold_seconds`` before an agent turn."""
    silence, waits = 0.0, []
    speaking_until = turns[0].end
    for turn in turns[1:]:
        gap = turn.start - speaking_until
        if gap > 0:
            silence += gap
            if turn.role is Role.AGENT and gap >= hold_seconds:
                waits.append(gap)
        speaking_until = max(speaking_until, turn.end)
    return silence, waits


def _recorded_waits(
    audio: CallAudio, turns: list[Turn], start: float, end: float, hold_seconds: float
) -> tuple[float, list[float]]:
    """Seconds neither line carried speech or music, and the holds: hold music, and silences of at
    least ``hold_seconds`` that an agent turn ends."""
    quiet = [s for s in audio.silences() if s.start >= start and s.end <= end]
    agent_starts = [t.start for t in turns if t.role is Role.AGENT]
    silent = [s for s in quiet if s.seconds >= hold_seconds and any(abs(s.end - a) < 0.05 for a in agent_starts)]
    music = [h for h in audio.holds if h.start >= start and h.end <= end]
    return sum(s.seconds for s in quiet), [i.seconds for i in music + silent]
