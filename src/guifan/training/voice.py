"""The customer's lines reworded by a language model the company runs itself (optional).

``ModelVoice`` is a ``CustomerVoice``: it asks an OpenAI-compatible endpoint (vLLM, Ollama,
llama.cpp's server …; ``guifan train --reword URL``) to say a line the scenario's state machine
chose in other words, so that a trainee does not learn the script by heart. It never decides a
transition or a score: the practice session grades the scenario's own line (what the customer
*meant*), and a rewording that drops a fact of the line (a number, an order or phone number, a
surname) or runs on is not used. An endpoint that fails is asked no more; the lines are then said
as written, and ``failure`` says why.
"""

from __future__ import annotations

import re
from functools import lru_cache

from guifan.engine.judge import ChatEndpoint, JudgeUnavailable
from guifan.training.scenario import Scenario

_FACTS = re.compile(r"\d+|[A-Za-z]{2,}|[\u4e00-\u9fff](?:先生|女士)")  # numbers, codes, 王先生/李女士
MAX_GROWTH = 2.0  # a rewording at most this many times as long as the line (plus a little)


def keeps_facts(line: str, reworded: str) -> bool:
    """Whether ``reworded`` says every fact of ``line`` (numbers, Latin codes, 王先生/李女士 …) and
    stays about as short; only then may the trainee hear it instead."""
    reworded = reworded.strip()
    if not reworded or len(reworded) > MAX_GROWTH * len(line) + 10 or "\n" in reworded:
        return False
    return all(fact in reworded for fact in _FACTS.findall(line))


class ModelVoice:
    """Rewords the customer's lines through ``endpoint``; the line as written when it cannot."""

    def __init__(self, endpoint: ChatEndpoint):
        self.endpoint = endpoint
        self.failure: str | None = None
        self._reword = lru_cache(maxsize=1024)(self._ask)

    def reword(self, line: str, *, scenario: Scenario, state: str) -> str:
        if self.failure is not None:
            return line
        try:
            reworded = self._reword(line, scenario.persona)
        except JudgeUnavailable as exc:
            self.failure = f"{exc},客户的话按场景原文说出"
            return line
        return reworded if keeps_facts(line, reworded) else line

    def _ask(self, line: str, persona: str) -> str:
        prompt = (
            f"你在客服培训中扮演客户:{persona}。把客户的下面这句话换一种口语说法,意思、语气和其中的事实"
            f"(数字、单号、姓氏)都不变,只输出改写后的一句话,不要解释:\n{line}"
        )
        return self.endpoint.ask(prompt, 120).strip().strip("「」\"“”")
