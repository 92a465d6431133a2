"""Composite policies: pick another alias for each request (task map, tiered complexity).

A composite alias has no deployments of its own; its policy names the alias that serves the
request (which may be composite again). The router then applies that alias's constraints and
policy. The cascade, which may call several tiers in turn, is in :mod:`.cascade`.

**Tiered complexity**: the shipped complexity classifier scores P(cheap tier good enough) for the
request's last user message (:mod:`pointsman.routing.classifier`). Score at or above the
threshold: the cheap tier; below: the strong tier; and the strong tier whenever the classifier is
unsure: no text, non-text parts, a prompt unlike its training data, or a score inside the
uncertainty ``band`` just above the threshold. Thresholds come from the model's calibration (a
target share of strong calls, or a target share of the strong tier's quality gain), never from a
constant. Scoring is in-process CPU work: about 0.1 ms at the median, well under 1 ms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pointsman.core.pipeline import RequestContext
from pointsman.errors import ConfigError, InvalidRequestError
from pointsman.routing.settings import TaskMapPolicy, TieredPolicy

if TYPE_CHECKING:  # the classifier pulls in numpy: loaded only when a tiered alias exists
    from pointsman.routing.classifier import ComplexityClassifier

TASK_HEADER = "x-pointsman-task"


@dataclass(frozen=True, slots=True)
class Pick:
    """What a composite policy chose: ``alias`` to serve, and why (for the route header).

    ``tier``: ``cheap``/``strong`` (tiered), the task (task map) or the tier alias (cascade);
    ``score`` and ``threshold``: the classifier's, when it scored; ``reason``: ``score``,
    ``band``, ``no-text``, ``non-text-content``, ``unfamiliar``, ``task`` or ``default``.
    """

    alias: str
    tier: str | None = None
    score: float | None = None
    threshold: float | None = None
    reason: str | None = None


class TaskMap:
    """The declared task (``x-pointsman-task`` header, else ``metadata.task``) -> alias."""

    kind = "task_map"

    def __init__(self, alias: str, settings: TaskMapPolicy) -> None:
        self.alias = alias
        self.tasks = dict(settings.tasks)
        self.default = settings.default

    def pick(self, ctx: RequestContext) -> Pick:
        """Raises :class:`InvalidRequestError` for a missing or unknown task without a default."""
        task = ctx.headers.get(TASK_HEADER)
        if task is None and ctx.chat is not None and ctx.chat.metadata:
            task = ctx.chat.metadata.get("task")
        target = self.tasks.get(task) if task else None
        if target is not None:
            return Pick(target, task, reason="task")
        if self.default is not None:
            return Pick(self.default, task, reason="default")
        raise InvalidRequestError(
            f"'{self.alias}' routes by task: send the header {TASK_HEADER} or metadata.task, "
            f"one of: {', '.join(self.tasks)}" + (f" (got '{task}')" if task else ""),
            param="metadata.task",
            code="unknown_task",
        )


@functools.lru_cache(maxsize=4)
def load_classifier(path: str | None) -> ComplexityClassifier:
    """The classifier at ``path`` (None: the shipped one), loaded once per process: a loaded
    model is immutable, and loading takes ~0.1 s, which a config reload should not pay again."""
    from pointsman.routing.classifier import ComplexityClassifier

    return ComplexityClassifier.load(path)


def strong_share(classifier: ComplexityClassifier, settings: TieredPolicy) -> float:
    """The share of calibration traffic the policy's target sends to the strong tier."""
    if settings.strong_share is not None:
        return settings.strong_share
    target = settings.quality if settings.quality is not None else 1.0
    calibration = classifier.calibration
    if calibration is None:
        return 1.0
    table = calibration.share_quality
    for percent, recovered in enumerate(table):
        if recovered >= target:
            return percent / (len(table) - 1)
    return 1.0


class Tiered:
    """Tiered complexity routing; see the module docstring."""

    kind = "tiered"

    def __init__(self, settings: TieredPolicy, classifier: ComplexityClassifier) -> None:
        self.cheap = settings.cheap
        self.strong = settings.strong
        self.classifier = classifier
        share = strong_share(classifier, settings)
        self.share = share
        self.band = settings.band
        # Below `threshold`: the strong tier on the score; from it up to `upper`: the band.
        self.threshold = classifier.threshold_for_strong_share(share)
        self.upper = classifier.threshold_for_strong_share(min(1.0, share + settings.band))

    @classmethod
    def from_settings(cls, where: str, settings: TieredPolicy) -> Tiered:
        """Load the policy's model. Raises :class:`ConfigError` naming ``where`` when it cannot."""
        try:
            classifier = load_classifier(settings.model)
            return cls(settings, classifier)
        except (OSError, RuntimeError, KeyError, ValueError) as error:  # ModelFileError too
            raise ConfigError([f"{where}.policy.model: cannot use the model: {error}"]) from None

    def pick(self, ctx: RequestContext) -> Pick:
        chat = ctx.chat
        if chat is None:
            return Pick(self.strong, "strong", None, self.threshold, "no-text")
        decision = self.classifier.decide(chat.messages, self.upper)
        reason: str = decision.reason
        score = decision.score
        if reason == "score" and decision.tier == "strong" and (score or 0.0) >= self.threshold:
            reason = "band"
        alias = self.cheap if decision.tier == "cheap" else self.strong
        return Pick(alias, decision.tier, score, self.threshold, reason)
