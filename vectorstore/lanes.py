"""Questions first: an ingest's embedding batches give way to a question's.

On 2 cores, a question's embeddings (the question, its candidate sentences) run ~4x
slower while an ingest's batch runs beside them (`bench.concurrency`). A question has
its own lane (a compiled model of its own in `openvino_backend`, so it never queues),
and a bulk batch starts only once no question has run for `quiet` seconds; it waits
`patience` seconds at most, so a steady stream of questions slows an ingest but cannot
stop it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BULK, QUESTION = "bulk", "question"  # an ingest's batches; a question's own embeddings
QUIET_SECONDS = 0.1  # a question's requests are this close (retrieval runs between them)
PATIENCE_SECONDS = 3.0  # the longest a bulk batch waits for questions to pause
POLL_SECONDS = 0.05  # a waiting batch looks at the clock at least this often


class QuestionsFirst:
    """Tracks the question lane's requests; bulk batches wait for a pause in them."""

    def __init__(
        self,
        quiet: float = QUIET_SECONDS,
        patience: float = PATIENCE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self.patience = patience
        self.clock = clock
        self._active = 0
        self._last = float("-inf")  # when the last question request ended
        self._changed = threading.Condition()

    @contextmanager
    def question(self) -> Iterator[None]:
        """Around a question lane's request."""
        with self._changed:
            self._active += 1
        try:
            yield
        finally:
            with self._changed:
                self._active -= 1
                self._last = self.clock()
                self._changed.notify_all()

    def before_bulk(self) -> None:
        """Return when no question runs and none ran for `quiet` seconds, or after `patience`."""
        with self._changed:
            deadline = self.clock() + self.patience
            while True:
                now = self.clock()
                if now >= deadline:
                    return
                if self._active:
                    wait = deadline - now
                else:
                    wait = min(self._last + self.quiet, deadline) - now
                    if wait <= 0:
                        return
                self._changed.wait(min(wait, POLL_SECONDS))
