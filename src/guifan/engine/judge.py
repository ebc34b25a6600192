"""An optional model judge for the hardest calls, through an OpenAI-compatible chat endpoint that
the company runs on its own servers (vLLM, Ollama, llama.cpp's server with Qwen …).

Never required and off by default (``guifan check --judge URL``): it is asked only about candidate
turns, those the meaning stage found uncertain for the acts the rulebook names
(``judge.acts``, e.g. shirking vs. a polite pointer, S-E4 promises, S-F8), one short yes/no
question each. Its answer becomes a finding with evidence ``model``, its rationale in the message.
A timeout or an endpoint that is down never stops a check: the judge says so once and the check
goes on with the meaning stage's own decision.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

_ANSWER = re.compile(r"^\s*(是|否|yes|no)\b[\s,,。.::]*(.*)$", re.IGNORECASE | re.DOTALL)


class JudgeUnavailable(Exception):
    """The endpoint could not be reached or answered nonsense; the message says which, in Chinese."""


@dataclass(frozen=True, slots=True)
class Verdict:
    performs: bool
    rationale: str


class ChatEndpoint:
    """One OpenAI-compatible ``/chat/completions`` endpoint on the company's own servers: a prompt
    in, the model's text out (temperature 0). Shared by the judge and training's customer voice."""

    def __init__(self, url: str, model: str = "default", timeout: float = 20.0, api_key: str | None = None):
        self.url = url.rstrip("/") + ("" if url.rstrip("/").endswith("/chat/completions") else "/chat/completions")
        self.model = model
        self.timeout = timeout
        self.api_key = api_key

    def ask(self, prompt: str, max_tokens: int) -> str:
        """The model's answer; JudgeUnavailable (in Chinese, naming the endpoint) when there is none."""
        import urllib.error  # here: http.client and ssl are no part of a check without a judge
        import urllib.request

        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise JudgeUnavailable(f"模型服务 {self.url} 不可用 ({getattr(exc, 'reason', exc)})") from None
        except (ValueError, UnicodeDecodeError):
            raise JudgeUnavailable(f"模型服务 {self.url} 的回答不是 JSON") from None
        try:
            return str(data["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise JudgeUnavailable(f"模型服务 {self.url} 的回答缺少 choices[0].message.content") from None


class ModelJudge:
    """Asks an OpenAI-compatible ``/chat/completions`` endpoint whether an agent line performs an act."""

    def __init__(self, url: str, model: str = "default", timeout: float = 20.0, api_key: str | None = None):
        self.endpoint = ChatEndpoint(url, model, timeout, api_key)
        self.failure: str | None = None  # set on the first failure: later questions are not asked
        self._ask = lru_cache(maxsize=4096)(self._ask_uncached)

    def judge(self, act_name: str, act_description: str, customer: str, agent: str) -> Verdict | None:
        """Does the agent's line perform the act? None when the endpoint failed (see ``failure``)."""
        if self.failure is not None:
            return None
        try:
            return self._ask(act_name, act_description, customer, agent)
        except JudgeUnavailable as exc:
            self.failure = f"{exc},已跳过模型判定"
            return None

    def _ask_uncached(self, act_name: str, act_description: str, customer: str, agent: str) -> Verdict:
        prompt = (
            f"你是客服质检员。判断客服的这句话是否属于「{act_name}」({act_description})。\n"
            f"客户说:{customer or '(无)'}\n客服说:{agent}\n"
            "只回答「是」或「否」,然后用一句话说明理由。"
        )
        content = self.endpoint.ask(prompt, 80)
        match = _ANSWER.match(content)
        if match is None:
            return Verdict(False, f"模型未明确回答: {content.strip()[:60]}")
        return Verdict(match.group(1).lower() in ("是", "yes"), match.group(2).strip()[:120])
