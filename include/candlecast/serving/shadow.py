"""Shadow forecasts off the request path: which requests are sampled (a hash of the request's
key, so the same key is always in or always out and tests can be exact) and the one background
thread per worker that makes them. The queue is bounded: when the challengers fall behind, a
sampled request is skipped (counted), never waited for."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

SHADOW_QUEUE_SIZE = 64


def in_sample(key: str, fraction: float) -> bool:
    """Whether the request of `key` is shadowed: its hash, as a number in [0, 1), below the
    fraction (0: never, 1: always)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


class ShadowQueue:
    """Jobs run one at a time on a daemon thread (started with the first job), so a worker's
    shutdown never waits for them; a failing job is logged and the next one runs."""

    def __init__(self, size: int = SHADOW_QUEUE_SIZE) -> None:
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue(size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.submitted = self.skipped = self.failed = 0

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue a job; False (and counted as skipped) when the queue is full."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shadows", daemon=True)
                self._thread.start()
            try:
                self._jobs.put_nowait(job)
            except queue.Full:
                self.skipped += 1
                return False
            self.submitted += 1
            return True

    def join(self) -> None:
        """Until every queued job has run (tests, and a worker draining before it stops)."""
        self._jobs.join()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a shadow never takes the thread (or a request) down
                with self._lock:
                    self.failed += 1
                log.exception("shadow forecast failed")
            finally:
                self._jobs.task_done()
