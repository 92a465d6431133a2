"""Random ids for the hot path.

``os.urandom`` is a system call, and on virtual machines a slow one (about 8 µs here); the
gateway makes several ids per request. These come from a per-process generator seeded from
``os.urandom`` at import (and again in a forked child), so they are as unpredictable across
replicas as random 64+-bit ids need to be for uniqueness. They are not secrets: secrets (virtual
keys) use :mod:`secrets`.
"""

from __future__ import annotations

import os
import random

_generator = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _generator.seed(os.urandom(32)))


def new_id(nbytes: int = 12) -> str:
    """``nbytes`` random bytes as lowercase hex (``2 * nbytes`` characters)."""
    return f"{_generator.getrandbits(8 * nbytes):0{2 * nbytes}x}"
