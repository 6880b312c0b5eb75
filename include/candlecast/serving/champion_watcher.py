"""Serving follows the champion: each API worker asks PostgreSQL every
CANDLECAST_RELEASE_POLL_SECONDS which version is each timeframe's champion and, when one
changed (a promotion, a rollback), loads it beside the one being served and swaps it in with one
assignment. A request reads the served model once, so it finishes on the version it started
with; none fails and none waits for the load. PostgreSQL down: the worker keeps what it serves.

The same check keeps each timeframe's newest challenger loaded as its shadow (`forecaster.shadows`,
swapped the same way): a new challenger replaces it, a promoted one leaves the shadows (and is
swapped in as champion without a second load), a timeframe without a challenger has none.
A worker serving a pinned Bento (see `pinned`) never swaps: its watcher only reads the champions
and says once per version when one is no longer what it serves. `polls` counts the checks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from candlecast.modeling import load_version, releases
from candlecast.ops import DatabaseUnavailable
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.loaded_model import LoadedModel

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
        pinned: bool = False,
    ) -> None:
        self.forecaster = forecaster
        self.poll_seconds = poll_seconds
        self.fetch = fetch
        self.pinned = pinned
        self.polls = 0  # checks done (each poll is one)
        self._declined: set[str] = set()  # champions a pinned worker said it does not serve
        self._failed: dict[str, float] = {}  # tag -> when its load failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> list[str]:
        """Swap in every champion that is not the one served and follow the challengers;
        returns the champion tags swapped in."""
        try:
            with self.forecaster.pool.connection() as conn:
                champions = releases.champion_tags(conn)
                challengers = releases.challenger_tags(conn)
        except DatabaseUnavailable:
            return []
        finally:
            self.polls += 1
        if self.pinned:
            self._decline(champions)
            return []
        swapped = self._swap_champions(champions)
        self._follow_challengers(challengers)
        return swapped

    def _decline(self, champions: dict[str, str]) -> None:
        """A pinned worker keeps its versions: it names each later champion once."""
        for code, tag in champions.items():
            served = self.forecaster.models.get(code)
            if served is None or served.tag == tag or tag in self._declined:
                continue
            self._declined.add(tag)
            log.warning(
                "%s: champion is now %s; the pinned Bento %s keeps serving %s",
                code,
                tag,
                self.forecaster.pinned_bento,
                served.tag,
            )

    def _load(self, tag: str, code: str, role: str, meanwhile: str) -> LoadedModel | None:
        """The version, loaded; None when it failed (logged once, with what happens
        `meanwhile`) or failed less than RETRY_FAILED_LOAD_SECONDS ago. A loaded shadow is
        reused, not loaded again."""
        shadow = self.forecaster.shadows.get(code)
        if shadow is not None and shadow.tag == tag:
            return shadow
        if time.monotonic() - self._failed.get(tag, -1e9) < RETRY_FAILED_LOAD_SECONDS:
            return None
        try:
            if self.fetch is not None:
                self.fetch(tag)
            return LoadedModel(tag, load_version(tag), self.forecaster.rank_fee)
        except Exception as error:  # a pruned or unreadable version: keep what is served
            self._failed[tag] = time.monotonic()
            log.error("%s %s %s not loaded, %s: %s", code, role, tag, meanwhile, error)
            return None

    def _swap_champions(self, champions: dict[str, str]) -> list[str]:
        swapped = []
        for code, tag in champions.items():
            served = self.forecaster.models.get(code)
            if served is not None and served.tag == tag:
                continue
            was = "none" if served is None else served.tag
            model = self._load(tag, code, "champion", f"still serving {was}")
            if model is None:
                continue
            self.forecaster.models = {**self.forecaster.models, code: model}
            swapped.append(tag)
            log.warning("%s: now serving champion %s (was %s)", code, tag, was)
        return swapped

    def _follow_challengers(self, challengers: dict[str, str]) -> None:
        """Shadows for the served timeframes whose newest challenger loads; one assignment."""
        if self.forecaster.shadow_fraction <= 0:
            if self.forecaster.shadows:
                self.forecaster.shadows = {}
            return  # nothing is shadowed: no challenger is held in memory
        current = self.forecaster.shadows
        shadows = {}
        for code, tag in challengers.items():
            served = self.forecaster.models.get(code)
            if served is None or served.tag == tag:
                continue
            model = self._load(tag, code, "challenger", "no shadows until it loads")
            if model is not None:
                shadows[code] = model
        if {c: m.tag for c, m in shadows.items()} != {c: m.tag for c, m in current.items()}:
            self.forecaster.shadows = shadows
            log.warning(
                "shadows: %s", ", ".join(f"{c} {m.tag}" for c, m in shadows.items()) or "none"
            )

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
        """Swapping to each new champion (a pinned worker's watcher only reads them)."""
        return self._thread is not None and not self.pinned

    def stop(self) -> None:
        self._stop.set()


def follow_champions(
    forecaster: Forecaster, poll_seconds: float, fetch: Callable[[str], object] | None = None
) -> ChampionWatcher:
    """Start a worker's watcher (poll_seconds 0: serve the startup champions until restart;
    a pinned Bento: its versions, the watcher only naming later champions)."""
    if forecaster.pinned_bento is not None:
        log.info("serving the versions pinned by the Bento %s", forecaster.pinned_bento)
        return ChampionWatcher(forecaster, poll_seconds, pinned=True).start()
    return ChampionWatcher(forecaster, poll_seconds, fetch).start()
