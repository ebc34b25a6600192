"""Contact-centre KPIs that a transcript's timestamps give: handle time, holds, silence, interruptions.

Computed per conversation for the dashboards; a conversation without turn times has no KPIs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from guifan.model import Conversation, Role


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
    silence = holds = interruptions = 0
    held = 0.0
    speaking_until = turns[0].end
    previous = turns[0]
    for turn in turns[1:]:
        gap = turn.start - speaking_until
        if gap > 0:
            silence += gap
            if turn.role is Role.AGENT and gap >= hold_seconds:
                holds += 1
                held += gap
        if turn.role is Role.AGENT and previous.role is Role.CUSTOMER and turn.start < previous.end - tolerance:
            interruptions += 1
        speaking_until = max(speaking_until, turn.end)
        previous = turn
    return Kpis(
        handle_seconds=round(handle, 2),
        hold_count=holds,
        hold_seconds=round(held, 2),
        silence_ratio=round(silence / handle, 4) if handle else 0.0,
        interruptions=interruptions,
    )
