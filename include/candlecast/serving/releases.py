"""Serving follows the champion: each API worker asks PostgreSQL every
CANDLECAST_RELEASE_POLL_SECONDS which version is each timeframe's champion and, when one
changed (a promotion, a rollback), loads it beside the one being served and swaps it in with one
assignment. A request reads the served model once, so it finishes on the version it started
with; none fails and none waits for the load. PostgreSQL down: the worker keeps what it serves.
A worker serving a pinned Bento (see `pinned`) never swaps."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from candlecast.modeling import load_version, releases
from candlecast.ops import DatabaseUnavailable
from candlecast.serving.forecaster import Forecaster, ServedModel

log = logging.getLogger(__name__)

RETRY_FAILED_LOAD_SECONDS = 60.0


class ChampionWatcher:
    """`fetch(tag)` brings a version into the local model store before it is loaded (a
    replica's import from the object store); None: the store already holds every version."""

    def __init__(
        self,
        forecaster: Forecaster,
        poll_seconds: float,
        fetch: Callable[[str], object] | None = None,
    ) -> None:
        self.forecaster = forecaster
        self.poll_seconds = poll_seconds
        self.fetch = fetch
        self._failed: dict[str, float] = {}  # tag -> when its load failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> list[str]:
        """Swap in every champion that is not the one served; returns the tags swapped in."""
        try:
            with self.forecaster.pool.connection() as conn:
                champions = releases.champion_tags(conn)
        except DatabaseUnavailable:
            return []
        swapped = []
        for code, tag in champions.items():
            served = self.forecaster.models.get(code)
            if served is None or served.tag == tag:
                continue
            if time.monotonic() - self._failed.get(tag, -1e9) < RETRY_FAILED_LOAD_SECONDS:
                continue
            try:
                if self.fetch is not None:
                    self.fetch(tag)
                model = ServedModel(tag, load_version(tag))
            except Exception as error:  # a pruned or unreadable version: keep serving
                self._failed[tag] = time.monotonic()
                log.error("champion %s not loaded, still serving %s: %s", tag, served.tag, error)
                continue
            self.forecaster.models = {**self.forecaster.models, code: model}
            swapped.append(tag)
            log.warning("%s: now serving champion %s (was %s)", code, tag, served.tag)
        return swapped

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check_once()
            except Exception:  # never let the watcher die: log and poll again
                log.exception("champion check failed")

    def start(self) -> ChampionWatcher:
        if self.poll_seconds > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="champions", daemon=True)
            self._thread.start()
        return self

    @property
    def following(self) -> bool:
        return self._thread is not None

    def stop(self) -> None:
        self._stop.set()


def follow_champions(
    forecaster: Forecaster, poll_seconds: float, fetch: Callable[[str], object] | None = None
) -> ChampionWatcher:
    """Start a worker's watcher (poll_seconds 0: serve the startup champions until restart;
    a pinned Bento: its versions, never started)."""
    if forecaster.pinned_bento is not None:
        log.info("serving the versions pinned by the Bento %s", forecaster.pinned_bento)
        return ChampionWatcher(forecaster, 0)
    return ChampionWatcher(forecaster, poll_seconds, fetch).start()
