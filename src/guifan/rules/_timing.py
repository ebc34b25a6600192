"""Timing analyses shared by the hold (HLD), silent-call (SPC) and delivery (VOC) families.

Registers no rule. Everything here reads turn times, so callers use it on timed transcripts only.

Pauses, holds and dead air
--------------------------
A *pause* is the agent's silence before one of its own turns (the *resume*), counted back to the
agent's previous turn (the *opener*):

* announced (the opener asks the customer to wait, ``hold_request``) or on hold music (in a
  recording): every silence between the opener and the resume is waiting time; the customer's "好的" or "还在吗?" in between does not end
  the hold;
* otherwise only the silence immediately before the resume counts: an earlier silence after the
  opener belongs to the customer (the agent had asked something and the customer was thinking).

A pause of at least ``hold_min_seconds`` is a *hold* when it was announced or hold music played
(the agent pressed hold, whatever was said), or when it looks like one: the opener announces a lookup (``lookup_announce``: 我帮您查一下…) or the resume reports a
result (``lookup_report``) or thanks for waiting (``hold_thanks``). An unannounced hold breaks S-B1
(HLD001). Any other pause of at least ``dead_air_seconds`` is dead air (S-H6, VOC006). The two are
exclusive, so one silence is never reported twice. A silence right after the customer asked the
agent to wait ("等一下,我找找订单号") is the customer's and neither.

Chat time stamps are send times: the gap before a message includes its typing, so in chat the
first ``chat_typing_seconds`` of a pause are not counted as waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from guifan.engine.context import CheckContext, TurnView
from guifan.model import Channel


@dataclass(frozen=True, slots=True)
class Pause:
    resume: TurnView  # the agent turn that ends the silence
    opener: TurnView  # the agent's previous turn
    silence: float  # seconds of silence, as measured
    seconds: float  # seconds counted as waiting (silence minus chat typing time)
    announced: bool  # the opener asked the customer to wait
    music: bool  # the recording plays hold music in the silence: the agent put the call on hold
    lookup: bool  # looks like a lookup: the opener announced one, or the resume reports or thanks
    customer_asked: bool  # the customer asked the agent to wait just before

    def is_hold(self, ctx: CheckContext) -> bool:
        return self.seconds >= ctx.settings.hold_min_seconds and (
            self.announced or self.music or (self.lookup and not self.customer_asked)
        )

    def is_dead_air(self, ctx: CheckContext) -> bool:
        return (
            self.seconds >= ctx.settings.dead_air_seconds
            and not (self.announced or self.music or self.lookup or self.customer_asked)
        )


def pauses(ctx: CheckContext) -> list[Pause]:
    """Every pause before an agent turn that follows an earlier agent turn, in order."""
    return ctx.shared(_pauses)


def _pauses(ctx: CheckContext) -> list[Pause]:
    found: list[Pause] = []
    silence_before = {after.index: gap for _, after, gap in ctx.gaps()}
    typing = ctx.settings.chat_typing_seconds if ctx.conversation.channel is Channel.CHAT else 0.0
    holds = ctx.conversation.audio.holds if ctx.conversation.audio is not None else ()
    opener: TurnView | None = None
    since_opener = 0.0
    previous: TurnView | None = None
    for view in ctx.turns:
        gap = silence_before.get(view.index, 0.0)
        if view.is_agent and view.turn.timed and view.spoken:
            if opener is not None:
                announced = opener.says("hold_request")
                music = any(h.start < view.turn.start and h.end > opener.turn.end for h in holds)
                # On announced hold or hold music, the customer's "好的"/"还在吗?" does not end the wait.
                silence = since_opener + gap if announced or music else gap
                found.append(Pause(
                    resume=view,
                    opener=opener,
                    silence=silence,
                    seconds=max(0.0, silence - typing),
                    announced=announced,
                    music=music,
                    lookup=opener.has("lookup_announce") or view.has("lookup_report", "hold_thanks"),
                    customer_asked=previous is not None and previous.is_customer and previous.has("hold_request"),
                ))
            opener, since_opener = view, 0.0
        else:
            since_opener += gap
        previous = view
    return found


def is_backchannel(view: TurnView, ctx: CheckContext) -> bool:
    """A short acknowledgement (嗯、好的、是的、我明白了): at most ``backchannel_max_chars`` characters
    once punctuation, spaces and emoji are stripped (empty turns are not speech at all). A turn of
    a recording without words counts its syllables instead: one per Chinese character."""
    if not view.basic and view.turn.voice is not None and view.turn.voice.syllables is not None:
        return 0 < view.turn.voice.syllables <= ctx.settings.backchannel_max_chars
    return 0 < len(view.basic) <= ctx.settings.backchannel_max_chars


def overlaps(a: TurnView, start: float, end: float) -> bool:
    """Whether timed turn ``a`` overlaps the interval [start, end)."""
    return a.turn.start < end and a.turn.end > start


def seconds_text(seconds: float) -> str:
    """'约12秒', '约5.5秒' for messages (whole seconds from 10 s on)."""
    value = round(seconds) if seconds >= 10 else round(seconds, 1)
    return f"约{value:g}秒"
