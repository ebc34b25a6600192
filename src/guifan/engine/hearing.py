"""How far the words of recognized speech can be trusted, and what that does to findings.

A turn of a call checked with speech recognition is *heard with doubt* when the recognizer wrote
nothing for speech it heard (未识别) or was less sure of the words than the rulebook's
``speech.trust_below``. Such a turn cannot prove that something was not said, nor quote what was:

* absence findings whose searched turns include it lose confidence through ``TurnView.doubt``
  (the same path as the meaning stage's doubt), down to the turn's recognition confidence;
* findings placed on it keep at most that confidence;

and ``qualify`` says so in the finding's message, so the reviewer knows to listen to the call.
Either way the confidence ends below the review threshold: the finding is 待复核, never a hard one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from guifan.model import Conversation, Evidence, Finding, Role, Turn
from guifan.rulebook import Rulebook

MIN_CONFIDENCE = 0.05
MISHEARD = "(识别出的文字可能是标准用语听错了,结论以录音为准,请复核)"
REVIEW_MARGIN = 0.05  # a doubtful turn's confidence sits at least this far under the review threshold


def heard_with(turn: Turn, rulebook: Rulebook) -> float | None:
    """How far the turn's words can be trusted (0-1, under the review threshold) when it was heard
    with doubt; None when it was not (or was not recognized from speech at all)."""
    if turn.asr is None:
        return None
    if turn.unrecognized:
        return MIN_CONFIDENCE
    confidence = turn.asr.confidence
    if confidence is None or confidence >= rulebook.speech.trust_below:
        return None
    return max(MIN_CONFIDENCE, min(confidence, rulebook.review.confidence_below - REVIEW_MARGIN))


def doubtful_turns(conversation: Conversation, rulebook: Rulebook) -> dict[int, float]:
    """Turn index -> ``heard_with`` for the turns heard with doubt."""
    found = ((n, heard_with(turn, rulebook)) for n, turn in enumerate(conversation.turns))
    return {n: trust for n, trust in found if trust is not None}


def _reason(conversation: Conversation, indexes: list[int]) -> str:
    turns = "、".join(f"第{n + 1}轮" for n in indexes[:5]) + ("等" if len(indexes) > 5 else "")
    unheard = all(conversation.turns[n].unrecognized for n in indexes)
    what = "语音未识别出文字" if unheard else "语音识别不确定"
    return f"({turns}{what},结论以录音为准,请复核)"


def qualify(findings: list[Finding], conversation: Conversation, doubtful: Mapping[int, float],
            review_below: float) -> list[Finding]:
    """``findings`` of text rules on a conversation of recognized speech, with the doubt of the
    words they rest on."""
    qualified = []
    for finding in findings:
        if finding.turn is not None and finding.turn in doubtful:
            confidence = min(finding.confidence, doubtful[finding.turn])
            finding = replace(finding, confidence=confidence,
                              message=finding.message + _reason(conversation, [finding.turn]))
        elif finding.confidence < review_below:
            # An absence finding made unsure by the turns it searched (TurnView.doubt): name them,
            # or say that the recognized words may hide the wording (TurnView.doubt: near sound).
            last = finding.turn if finding.turn is not None else len(conversation.turns)
            agent = [n for n in doubtful if n <= last and conversation.turns[n].role is Role.AGENT]
            if agent:
                finding = replace(finding, message=finding.message + _reason(conversation, agent))
            elif finding.evidence is not Evidence.MEANING:
                finding = replace(finding, message=finding.message + MISHEARD)
        qualified.append(finding)
    return qualified
