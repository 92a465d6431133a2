"""The demo's tiered routing: the ``auto`` alias and what it saved against the strong tier."""

from __future__ import annotations

from rich.table import Table

from pointsman.demo.common import Tally
from pointsman.demo.outage import OUTAGE_MODELS

ROUTED_QUESTIONS = [
    "What is the capital of Australia?",
    "Say good morning in Spanish.",
    "Name three primary colours.",
    "A train leaves at 14:05 at 84 km/h; a second leaves the same station at 14:35 at 105 km/h "
    "on a parallel track. When and where does the second overtake the first? Show your working.",
    "Prove that the square root of 2 is irrational.",
    "Which of these is a mammal? A. Shark B. Dolphin C. Trout D. Octopus",
    "Let f(x) = x^3 - 6x^2 + 11x - 6. Find all real roots and where f is increasing.",
    "Spell 'railway' backwards.",
    "What colour is the sky on a clear day?",
    "Translate 'thank you' into German.",
    "How many days are in a week?",
    "Who wrote Romeo and Juliet?",
    "Give a synonym for 'happy'.",
    "What is 12 times 12?",
    "Is Paris in France?",
    "Name a fruit that is yellow.",
]


def routing_summary(tally: Tally) -> Table:
    """The ``auto`` alias: the share of cheap and strong calls, and what it cost against sending
    every one of them to the strong tier (same tokens, priced from the catalog)."""
    from pointsman.core.types import Usage
    from pointsman.governance.catalog import Catalog
    from pointsman.governance.costs import cost_of

    catalog = Catalog.load()
    routed = [o for o in tally.outcomes if o.alias == "auto" and o.ok]
    cheap = [o for o in routed if o.model == OUTAGE_MODELS["fast"]]
    actual = strong = 0
    for o in routed:
        usage = Usage(prompt_tokens=o.tokens_in, completion_tokens=o.tokens_out)
        actual += cost_of(usage, catalog.lookup(o.model)).micros
        strong += cost_of(usage, catalog.lookup(OUTAGE_MODELS["smart"])).micros
    table = Table(
        title="Tiered routing: alias auto over fast / smart (SIMULATED)", show_header=False
    )
    table.add_column("metric", style="cyan")
    table.add_column("value", justify="right")
    total = max(1, len(routed))
    table.add_row("requests routed by the classifier", str(len(routed)))
    table.add_row("  to the cheap tier (fast)", f"{len(cheap)} ({100 * len(cheap) / total:.0f} %)")
    strong_calls = len(routed) - len(cheap)
    table.add_row(
        "  to the strong tier (smart)", f"{strong_calls} ({100 * strong_calls / total:.0f} %)"
    )
    table.add_row("cost as routed (USD)", f"{actual / 1e6:.6f}")
    table.add_row("cost if all went to the strong tier (USD)", f"{strong / 1e6:.6f}")
    saved = 100 * (strong - actual) / strong if strong else 0.0
    table.add_row("saved", f"{saved:.1f} %")
    return table
