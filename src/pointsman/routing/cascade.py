"""Cascades: answer with the cheap tier first, escalate only when its answer scores too low.

For each tier but the last, in order: ask it for a whole (non-streamed) answer, score the answer
from 0 to 1, and accept it when the score reaches the threshold. Otherwise (or when the tier
failed) go on to the next tier; the last tier's answer is final and not scored. Scorers:

* ``logprob``: the geometric mean of the answer's token probabilities, exp(mean logprob)
  (the step asks for logprobs; an answer without them cannot be judged and escalates);
* ``json_schema``: 1 when the answer is valid against the request's ``response_format`` schema
  (``json_object``: any JSON object), else 0;
* ``agreement``: the step asks for two samples; the word overlap (Jaccard) of the two;
* ``verifier``: another alias judges the answer, replying ``{"score": s}`` (JSON schema).

A streaming client gets the final answer's stream: an accepted cheap answer is replayed as
chunks (:class:`ReplayStream`), an escalated request streams from the last tier. The client gets
the answer in the shape it asked for (no logprobs or extra samples it did not request). Every
billed call counts: the answers not used and the verifier's calls are recorded as steps
(``governance.accounting.STEPS``), which the request's cost adds up; the budget reservation
covers every tier the cascade may reach (``governance.accounting.RESERVE``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import msgspec

from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest, Usage
from pointsman.errors import PointsmanError
from pointsman.governance.accounting import RESERVE, STEPS
from pointsman.governance.catalog import ModelInfo
from pointsman.providers.base import ChatResult, ChatStream
from pointsman.routing.composite import Pick
from pointsman.routing.features import prompt_text
from pointsman.routing.record import RouteRecord, Step
from pointsman.routing.settings import CascadePolicy
from pointsman.routing.subrequest import adopt, derive, whole_answer
from pointsman.routing.table import Deployment

Run = Callable[[RequestContext], Awaitable[None]]
VERIFIER_MAX_TOKENS = 32
VERIFIER_OVERHEAD_TOKENS = 200  # the instructions and framing around question and answer
VERIFY_SYSTEM = (
    "You grade answers. Read the question and the answer, then reply only with JSON "
    '{"score": s}, where s between 0 and 1 is the probability that the answer is correct '
    "and complete."
)
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1}},
    "required": ["score"],
    "additionalProperties": False,
}
_WORD = re.compile(r"\w+")
_CHUNK_WORDS = 8
_decode = msgspec.json.decode
_encode = msgspec.json.encode


class Selector(Protocol):
    def allowed(self, ctx: RequestContext, alias: str) -> list[Deployment]:
        """Deployments of ``alias`` that may serve ``ctx`` (possibly none)."""
        ...

    def required(self, ctx: RequestContext, alias: str) -> list[Deployment]:
        """The same, but raises the router's refusal when there are none."""
        ...


# -- scores (pure) ----------------------------------------------------------------------------


def _first(completion: dict[str, Any], index: int = 0) -> dict[str, Any]:
    choices = completion.get("choices") or []
    return choices[index] if len(choices) > index and isinstance(choices[index], dict) else {}


def answer_text(completion: dict[str, Any], index: int = 0) -> str:
    """A choice's text, or its tool calls as JSON when it called tools."""
    message = _first(completion, index).get("message") or {}
    content = message.get("content")
    if content:
        return str(content)
    calls = message.get("tool_calls")
    return json.dumps(calls, sort_keys=True) if calls else ""


def logprob_score(completion: dict[str, Any]) -> float | None:
    """exp(mean token logprob) of the first choice; None when there are no logprobs."""
    logprobs = _first(completion).get("logprobs") or {}
    values = [t.get("logprob") for t in logprobs.get("content") or [] if isinstance(t, dict)]
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    if not numbers:
        return None
    return math.exp(sum(numbers) / len(numbers))


def schema_score(completion: dict[str, Any], chat: ChatRequest) -> float | None:
    """1.0 when the answer satisfies the requested JSON format, else 0.0; None when the request
    asked for no JSON format (nothing to check)."""
    fmt = chat.response_format
    if fmt is None or fmt.type == "text":
        return None
    try:
        value = json.loads(answer_text(completion))
    except ValueError:
        return 0.0
    if fmt.type == "json_object":
        return 1.0 if isinstance(value, dict) else 0.0
    schema = (fmt.json_schema or {}).get("schema")
    if not isinstance(schema, dict):
        return 1.0
    import jsonschema  # 0.1 s to import: only when a cascade scores JSON

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError:
        return 0.0
    except jsonschema.SchemaError:
        return None
    return 1.0


def agreement_score(completion: dict[str, Any]) -> float | None:
    """Word-set overlap (Jaccard) of the first two choices; None with fewer than two."""
    if len(completion.get("choices") or []) < 2:
        return None
    a = set(_WORD.findall(answer_text(completion, 0).lower()))
    b = set(_WORD.findall(answer_text(completion, 1).lower()))
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def verifier_body(chat: ChatRequest, answer: str, alias: str) -> dict[str, Any]:
    """The verifier's request: the question (the last user message) and the answer."""
    question = prompt_text(chat.messages).text
    return {
        "model": alias,
        "messages": [
            {"role": "system", "content": VERIFY_SYSTEM},
            {"role": "user", "content": f"Question:\n{question}\n\nAnswer:\n{answer}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
        },
        "max_tokens": VERIFIER_MAX_TOKENS,
        "temperature": 0,
    }


def verdict_score(completion: dict[str, Any]) -> float | None:
    """The verifier's ``score`` in [0, 1]; None when it did not give one."""
    try:
        verdict = json.loads(answer_text(completion))
    except ValueError:
        return None
    score = verdict.get("score") if isinstance(verdict, dict) else None
    if isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 1:
        return float(score)
    return None


# -- the answer as the client asked for it ----------------------------------------------------


def client_body(completion: dict[str, Any], chat: ChatRequest) -> dict[str, Any]:
    """The completion without what the step asked for on its own account (logprobs, a second
    sample)."""
    choices = list(completion.get("choices") or [])[: chat.n or 1]
    if not chat.logprobs:
        choices = [{**c, "logprobs": None} if isinstance(c, dict) else c for c in choices]
    return {**completion, "choices": choices}


class ReplayStream(ChatStream):
    """A whole answer replayed as one batch of ``chat.completion.chunk`` payloads."""

    def __init__(self, payloads: list[bytes], usage: Usage | None, finish: str | None) -> None:
        self.payloads = payloads
        self.usage = usage
        self.finish_reason = finish

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        if self.payloads:
            yield self.payloads

    async def aclose(self) -> None:
        return None


def replay(completion: dict[str, Any], usage: Usage | None, include_usage: bool) -> ReplayStream:
    """The chunks an upstream would have streamed for ``completion``."""
    head = {k: completion.get(k) for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"
    payloads: list[bytes] = []
    finish: str | None = None

    def chunk(index: int, delta: dict[str, Any], reason: str | None = None) -> None:
        choice = {"index": index, "delta": delta, "finish_reason": reason}
        payloads.append(_encode({**head, "choices": [choice]}))

    for position, choice in enumerate(completion.get("choices") or []):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        chunk(index, {"role": "assistant", "content": ""})
        pieces = re.findall(r"\S+\s*|\s+", message.get("content") or "")
        for start in range(0, len(pieces), _CHUNK_WORDS):
            chunk(index, {"content": "".join(pieces[start : start + _CHUNK_WORDS])})
        for i, call in enumerate(message.get("tool_calls") or []):
            chunk(index, {"tool_calls": [{"index": i, **call}]})
        finish = choice.get("finish_reason") or "stop"
        chunk(index, {}, finish)
    if include_usage and completion.get("usage") is not None:
        payloads.append(_encode({**head, "choices": [], "usage": completion["usage"]}))
    return ReplayStream(payloads, usage, finish)


# -- the cascade ------------------------------------------------------------------------------


def _longest_answer(
    ctx: RequestContext, group: list[Deployment], info: Mapping[str, ModelInfo | None]
) -> int:
    """The longest answer a tier may give this request, in tokens."""
    cap = ctx.chat.output_limit if ctx.chat is not None else None
    if cap is not None:
        return cap
    limits = [i.max_output for d in group if (i := info.get(d.name)) is not None]
    return max(limits, default=4096)


class Cascade:
    """One cascade alias's policy; :meth:`run` serves a request (see the module docstring)."""

    kind = "cascade"

    def __init__(self, settings: CascadePolicy) -> None:
        self.tiers = tuple(settings.tiers)
        self.scorer = settings.scorer
        self.threshold = settings.threshold
        self.verifier = settings.verifier

    def pick(self, ctx: RequestContext) -> Pick:
        return Pick(self.tiers[0], self.tiers[0], threshold=self.threshold, reason=self.scorer)

    def plan(
        self, ctx: RequestContext, select: Selector, info: Mapping[str, ModelInfo | None]
    ) -> list[Deployment]:
        """The candidates of the first tier that has any (the final tier must have some: else
        the router's refusal), and on ``ctx.notes[RESERVE]`` every further call the cascade may
        make, so the budget reservation covers them (``info``: catalog entries by deployment)."""
        final = select.required(ctx, self.tiers[-1])
        tiers = [select.allowed(ctx, tier) for tier in self.tiers[:-1]]
        first = next((t for t in tiers if t), final)
        reserve: list[tuple[list[Deployment], int, int | None, int]] = []
        extra_answers = 1 if self.scorer == "agreement" else 0
        verifier = select.allowed(ctx, self.verifier) if self.verifier else []
        for group in tiers:
            if not group:
                continue
            if group is not first:
                reserve.append((group, 0, None, 1 + extra_answers))
            elif extra_answers:
                reserve.append((group, 0, None, extra_answers))
            if verifier:  # the verifier reads the question and the tier's (longest) answer
                prompt = _longest_answer(ctx, group, info) + VERIFIER_OVERHEAD_TOKENS
                reserve.append((verifier, prompt, VERIFIER_MAX_TOKENS, 1))
        if first is not final:
            reserve.append((final, 0, None, (ctx.chat.n or 1) if ctx.chat else 1))
        ctx.notes[RESERVE] = reserve
        return first

    def step_changes(self) -> dict[str, Any]:
        """What a cheap step asks for beyond the client's request."""
        if self.scorer == "logprob":
            return {"logprobs": True}
        if self.scorer == "agreement":
            return {"n": 2}
        return {}

    async def run(
        self, ctx: RequestContext, record: RouteRecord, run: Run, select: Selector
    ) -> None:
        """Serve ``ctx``: sets its answer (``result`` or ``stream``), ``deployment`` and
        ``usage``, appends steps to ``record`` and billed extra calls to ``ctx.notes[STEPS]``.
        Raises what the last tier raises."""
        chat = ctx.chat
        if chat is not None:
            for tier in self.tiers[:-1]:
                if await self._try(ctx, chat, tier, record, run, select):
                    return
        last = self.tiers[-1]
        sub = derive(ctx, last, select.required(ctx, last))
        try:
            await run(sub)
        finally:
            name = sub.deployment.name if sub.deployment is not None else None
            record.steps.append(Step(last, name, None, "final" if name else "failed"))
        adopt(ctx, sub)

    async def _try(
        self,
        ctx: RequestContext,
        chat: ChatRequest,
        tier: str,
        record: RouteRecord,
        run: Run,
        select: Selector,
    ) -> bool:
        """One cheap tier's turn; True when its answer was accepted (and adopted)."""
        candidates = select.allowed(ctx, tier)
        if not candidates:
            record.steps.append(Step(tier, None, None, "skipped", "no allowed deployment"))
            return False
        step_chat, step_body = whole_answer(chat, ctx.body, **self.step_changes())
        sub = derive(ctx, tier, candidates, chat=step_chat, body=step_body)
        try:
            await run(sub)
        except PointsmanError as error:  # a failed cheap tier escalates
            record.steps.append(Step(tier, None, None, "failed", error.code or error.message))
            return False
        result, deployment = sub.result, sub.deployment
        if not isinstance(result, ChatResult) or deployment is None:
            return False
        completion = _decode(result.body)
        score = await self._score(ctx, chat, completion, record, run, select)
        if score is None or score < self.threshold:
            ctx.notes.setdefault(STEPS, []).append((deployment, result.usage))
            record.steps.append(Step(tier, deployment.name, score, "escalated"))
            return False
        record.steps.append(Step(tier, deployment.name, score, "accepted"))
        adopt(ctx, sub)
        answer = client_body(completion, chat)
        if ctx.streaming:
            ctx.result = None
            ctx.stream = replay(answer, result.usage, chat.wants_usage_chunk)
        else:
            ctx.result = ChatResult(_encode(answer), result.usage, result.finish_reason)
        return True

    async def _score(
        self,
        ctx: RequestContext,
        chat: ChatRequest,
        completion: dict[str, Any],
        record: RouteRecord,
        run: Run,
        select: Selector,
    ) -> float | None:
        if self.scorer == "logprob":
            return logprob_score(completion)
        if self.scorer == "json_schema":
            return schema_score(completion, chat)
        if self.scorer == "agreement":
            return agreement_score(completion)
        return await self._verify(ctx, chat, answer_text(completion), record, run, select)

    async def _verify(
        self,
        ctx: RequestContext,
        chat: ChatRequest,
        answer: str,
        record: RouteRecord,
        run: Run,
        select: Selector,
    ) -> float | None:
        alias = self.verifier
        candidates = select.allowed(ctx, alias) if alias else []
        if alias is None or not candidates:
            return None
        body = verifier_body(chat, answer, alias)
        sub = derive(ctx, alias, candidates, chat=msgspec.convert(body, ChatRequest), body=body)
        try:
            await run(sub)
        except PointsmanError as error:
            record.steps.append(Step(alias, None, None, "judge-failed", error.code))
            return None
        result, deployment = sub.result, sub.deployment
        if not isinstance(result, ChatResult) or deployment is None:
            return None
        ctx.notes.setdefault(STEPS, []).append((deployment, result.usage))
        score = verdict_score(_decode(result.body))
        record.steps.append(Step(alias, deployment.name, score, "judge"))
        return score
