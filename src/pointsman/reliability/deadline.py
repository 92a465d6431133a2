"""A deadline on waiting for an upstream, with one timer per call instead of one per wait.

``asyncio.timeout`` costs about 4 µs per use (a Timeout object, a heap entry, a cancellation),
which a stream would pay on every batch. A :class:`Deadline` arms one ``loop.call_at`` timer
and moves the deadline by writing an attribute: when the timer fires early (the deadline moved
later) it re-arms itself for the new one, and when it fires while nobody waits on the upstream
(the client is being written to) it disarms until the next wait. Only a wait that really
overran its deadline is cancelled, and :meth:`expired_in` turns that cancellation back into a
timeout for the caller.

Usage, around each await on the upstream::

    deadline.wait_until(loop.time() + idle)
    try:
        batch = await anext(iterator)
    except asyncio.CancelledError:
        if deadline.expired_in():
            raise AttemptTimeout(...) from None
        raise
    finally:
        deadline.waiting = False

Single event loop; one waiter at a time.
"""

from __future__ import annotations

import asyncio


class Deadline:
    __slots__ = ("_expired", "_handle", "_loop", "_task", "waiting", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._expired = False
        self.waiting = False
        self.when = 0.0

    def wait_until(self, when: float, wake: float | None = None) -> None:
        """The current task is about to wait on the upstream until ``when`` (``loop.time()``).

        ``wake`` (at most ``when``) arms the timer earlier than needed, so that the later,
        shorter waits a caller knows are coming (a stream's idle waits) need no re-arming.
        """
        self.when = when
        self.waiting = True
        self._task = asyncio.current_task(self._loop)
        handle = self._handle
        if handle is None or handle.when() > when:
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(when if wake is None else wake, self._fire)

    def _fire(self) -> None:
        self._handle = None
        if not self.waiting or self._task is None:
            return  # nobody waits on the upstream now; the next wait re-arms
        if self._loop.time() < self.when:
            self._handle = self._loop.call_at(self.when, self._fire)
            return
        self._expired = True
        self._task.cancel()

    def expired_in(self) -> bool:
        """Called on ``CancelledError``: True when this deadline caused it (and the task was
        not also cancelled by someone else), in which case the cancellation is withdrawn."""
        if not self._expired:
            return False
        self._expired = False
        task = self._task
        return task is not None and task.uncancel() == 0

    def close(self) -> None:
        """Disarm for good (the call is over)."""
        self.waiting = False
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
