"""Python's cyclic garbage collector, timed for an interactive app.

A workspace's run keeps hundreds of thousands of objects alive (facts, findings, table rows).
CPython's full collection walks all of them, holding the GIL — at M about 0.3 s, at L more —
and it comes when allocation counts say so: in the middle of a tab change or a keystroke,
where it was the largest part of the app's stalls. So the app moves what survives into the
permanent generation every second (`gc.freeze`, which costs nothing), and the collector's
own collections only walk what is newer. Cycles among frozen objects (Textual's cleared
rows, old toasts: some 36k objects per evaluation at M) are then found by one deliberate
full collection, run after every few evaluations (or ten minutes) once nobody has pressed
a key or moved the mouse for a few seconds, so nobody waits for it. (The frozen set's
size is not asked for: `gc.get_freeze_count` walks it, ~50 ms at M.)

An evaluation in a worker thread allocates millions of objects within that second, and the
collector's own full collections then walked them from the worker, holding the GIL: 50–100
ms each at L, during which the screen did not answer. So while an evaluation (or a stored
run's reading, or a what-if) works, the collector waits (`working()`): what the work keeps is
frozen when it ends, what it dropped was freed by reference counting, and the deliberate full
collection finds any cycle later.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

EVERY = 4  # a full collection once more evaluations than this were shown
AT_MOST_S = 600.0  # … or this long since the last one
IDLE_S = 3.0  # … once there was no input for this long


class QuietCollector:
    def __init__(
        self, every: int = EVERY, at_most_s: float = AT_MOST_S, idle_s: float = IDLE_S
    ) -> None:
        self.every = every
        self.at_most_s = at_most_s
        self.idle_s = idle_s
        self.last_input = self.last_collection = time.monotonic()
        self.loads = 0  # evaluations shown since the last full collection
        self.collections = 0
        self.workers = 0  # works in progress that keep the collector waiting
        self._lock = threading.Lock()
        self._was_enabled = True
        self._stopped = False

    @contextmanager
    def working(self) -> Iterator[None]:
        """A worker's heavy allocation: no collection until the last such work ends."""
        with self._lock:
            if self.workers == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self.workers += 1
        try:
            yield
        finally:
            with self._lock:
                self.workers -= 1
                if self.workers == 0:
                    if not self._stopped:  # the app has closed: nothing to freeze for
                        gc.freeze()
                    if self._was_enabled:
                        gc.enable()

    def touched(self) -> None:
        """A key or mouse event: the user is at the keyboard."""
        self.last_input = time.monotonic()

    def loaded(self) -> None:
        """An evaluation's data is on screen (what it replaced is garbage now)."""
        self.loads += 1

    def due(self) -> bool:
        now = time.monotonic()
        if self.workers or now - self.last_input < self.idle_s:
            return False
        # the clock counts too: applies and pool changes make garbage without an evaluation
        return self.loads > self.every or now - self.last_collection >= self.at_most_s

    def tick(self) -> None:
        """Once a second: freeze the survivors; a full collection if it is due."""
        if self.due():
            self.collect()
        else:
            gc.freeze()

    def collect(self) -> int:
        """One full collection of everything, frozen or not; then freeze what survives."""
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self.loads = 0
        self.last_collection = time.monotonic()
        self.collections += 1
        return found

    def stop(self) -> None:
        """Back to the collector's own schedule (the app is closing). A work still running
        (a worker thread cannot be stopped) turns the collector back on when it ends."""
        with self._lock:
            self._stopped = True
            gc.unfreeze()
