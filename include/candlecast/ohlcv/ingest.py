"""Incremental update of many series at once.

For each series: read the last stored candle → fetch only what is newer (all fetches of a batch
concurrently) → drop the still-open candle → one Great Expectations run over the whole batch,
each series measured against its stored history and its coin's 1h path → the candles that fail a
critical expectation are held in quarantine (one file per series and run), the newest candle is
left pending when only its successor can tell a print from a move, and everything else is
cleaned → merged (newer wins) → trimmed to the retention window → written atomically under the
series' lock. A defective candle never freezes its series: the rest of the batch, and every
later batch, are written.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from candlecast.marketdata import CANDLE_COLUMNS, FetchRequest, MarketDataProvider
from candlecast.ohlcv import moves
from candlecast.ohlcv.cleaning import clean_candles, drop_unclosed
from candlecast.ohlcv.parquet_store import CandleStore, ticker_filename
from candlecast.ohlcv.validation import SeriesBatch, SeriesVerdict, validate_batches
from candlecast.ops import atomic_write
from candlecast.ops.s3_client import ObjectStore, is_object_store_url
from candlecast.timeframes import TIMEFRAMES, Timeframe

log = logging.getLogger(__name__)
CONTEXT_CANDLES = 200  # stored candles each batch is measured against (the trailing scale)
MAX_NOTES = 20


@dataclass
class UpdateResult:
    ticker: str
    timeframe: str
    status: str  # written | unchanged | failed
    rows_fetched: int
    rows_stored: int
    path: str
    reason: str = ""
    failures: list[dict] = field(default_factory=list)  # GX failures (critical/warning/info)
    held: int = 0  # candles held in quarantine
    quarantine_path: str = ""
    held_span: list[str] = field(default_factory=list)  # first and last held candle
    flagged: int = 0  # new candles written with a warning
    pending: int = 0  # the newest candle, judged again next run
    notes: list[str] = field(default_factory=list)  # one line per held/flagged/pending candle
    gaps: list[dict] = field(default_factory=list)  # gaps before new candles: end, missing
    incomplete: list[str] = field(default_factory=list)  # weeks/months not whole: not stored
    new_series: bool = False  # nothing was stored before: its history arrived in this run
    first: str = ""
    last: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:120] or "run"


def hold_in_quarantine(
    root: Path | str,
    ticker: str,
    timeframe: Timeframe,
    run_id: str,
    held: pd.DataFrame,
    reason: dict,
) -> Path | str:
    """The held candles as Parquet beside their reasons as JSON; one pair per series and run,
    so re-running a run replaces its own files. `root` an `s3://` URL: one PUT each, and the
    URL of the Parquet object is returned (a review on any worker reads it from there)."""
    relative = f"{timeframe.slug}/{ticker_filename(ticker).removesuffix('.parquet')}"
    name = _safe(run_id)
    text = json.dumps(reason, indent=2, default=str).encode()
    if is_object_store_url(root):
        objects = ObjectStore(root)
        objects.put(f"{relative}/{name}.json", text)
        objects.put(f"{relative}/{name}.parquet", held.to_parquet(index=False))
        return objects.uri(f"{relative}/{name}.parquet")
    folder = Path(root) / relative
    path = atomic_write(folder / f"{name}.parquet", lambda h: held.to_parquet(h, index=False))
    atomic_write(folder / f"{name}.json", lambda h: h.write(text))
    return path


def plan_fetch(
    store: CandleStore,
    ticker: str,
    timeframe: Timeframe,
    now: pd.Timestamp,
    since: pd.Timestamp | None = None,
) -> FetchRequest:
    """From the last stored candle (re-fetched: the provider may have revised it), or from
    `since` / the start of the retention window when there is nothing newer to start from."""
    retention_start = timeframe.retention_start(now)
    last = store.last_timestamp(ticker, timeframe)
    if since is not None:
        start = max(timeframe.floor(since), retention_start)
    elif last is None or last < retention_start:
        start = retention_start
    else:
        start = last
    return FetchRequest(ticker, timeframe, start, now)


def _known(batch: pd.DataFrame, stored: pd.DataFrame) -> pd.Series:
    """Candles of the batch already stored exactly as they are (the re-fetched last one)."""
    if stored.empty or batch.empty:
        return pd.Series(False, index=batch.index)
    columns = list(CANDLE_COLUMNS[:6])
    same = batch[columns].merge(
        stored[columns].drop_duplicates("timestamp"),
        how="left",
        on="timestamp",
        suffixes=("", "_s"),
        indicator=True,
    )
    equal = same["_merge"].eq("both")
    for column in columns[1:]:
        equal &= same[column].eq(same[f"{column}_s"])
    return pd.Series(equal.to_numpy(), index=batch.index)


def _hourly(store: CandleStore, batches: dict, ticker: str) -> pd.DataFrame | None:
    """The coin's 1h path: stored candles, with this run's fetched ones on top except those
    that move like a bad print (a print must not confirm itself on another timeframe)."""
    hour = TIMEFRAMES["1h"]
    stored = store.read(ticker, hour)
    fetched = batches.get((ticker, "1h"))
    if fetched is None:
        return stored
    fresh, _ = clean_candles(fetched[1], hour, pd.Timestamp.max.tz_localize("UTC"))
    fresh = fresh[fresh["timestamp"] > stored["timestamp"].max()] if len(stored) else fresh
    context = stored.iloc[-CONTEXT_CANDLES:]
    verdicts = moves.assess(pd.concat([context, fresh], ignore_index=True), hour, len(context))
    fresh = fresh[~verdicts["verdict"].isin(moves.HELD_VERDICTS).to_numpy()]
    return pd.concat([stored, fresh], ignore_index=True)


def _store_series(
    store: CandleStore,
    request: FetchRequest,
    batch: pd.DataFrame,
    verdict: SeriesVerdict,
    stored: pd.DataFrame,
    now: pd.Timestamp,
    quarantine_root: Path | str,
    run_id: str,
) -> UpdateResult:
    ticker, timeframe = request.ticker, request.timeframe
    batch = batch.reset_index(drop=True)
    known = _known(batch, stored)
    new = ~known
    held = sorted(p for p in verdict.held if new.iloc[p])
    pending = sorted(p for p in verdict.pending if new.iloc[p])
    flagged = sorted(p for p in verdict.flagged if new.iloc[p])
    result = UpdateResult(ticker, timeframe.code, "unchanged", len(batch), len(stored), "")
    result.new_series = stored.empty
    result.failures = verdict.failures
    result.notes = [
        verdict.notes[p] for p in sorted({*held, *pending, *flagged}) if p in verdict.notes
    ]
    first_new = batch.loc[new, "timestamp"].min() if new.any() else None
    result.gaps = [
        g for g in verdict.gaps if first_new is not None and g["before"] >= first_new.isoformat()
    ]
    if held:
        rows = batch.iloc[held]
        critical = [f for f in verdict.failures if f["severity"] == "critical"]
        reasons = {
            "ticker": ticker,
            "timeframe": timeframe.code,
            "run_id": run_id,
            "failures": critical,
            "candles": [verdict.notes.get(p, "") for p in held],
        }
        where = hold_in_quarantine(quarantine_root, ticker, timeframe, run_id, rows, reasons)
        result.held, result.quarantine_path = len(held), str(where)
        result.held_span = [
            rows["timestamp"].min().isoformat(),
            rows["timestamp"].max().isoformat(),
        ]
        described = "; ".join(f"{f['expectation']}({f['column']})" for f in critical)
        result.reason = f"{len(held)} candle(s) held: {described}"
        log.warning(
            "held %d candles of %s %s: %s (%s)", len(held), ticker, timeframe.code, described, where
        )
    result.pending, result.flagged = len(pending), len(flagged)
    keep = new & ~batch.index.isin([*held, *pending])
    fresh, _ = clean_candles(batch[keep], timeframe, now, label=ticker)
    written, rows = store.merge_write(ticker, timeframe, fresh, timeframe.retention_start(now))
    result.status, result.rows_stored = ("written" if written else "unchanged"), rows
    result.path = store.location(ticker, timeframe)
    if not fresh.empty:
        result.first, result.last = (
            fresh["timestamp"].iloc[0].isoformat(),
            fresh["timestamp"].iloc[-1].isoformat(),
        )
    return result


def update_many(
    store: CandleStore,
    provider: MarketDataProvider,
    series: list[tuple[str, Timeframe]],
    now: pd.Timestamp,
    quarantine_root: Path | str,
    since: pd.Timestamp | None = None,
    gx_project: Path | None = None,
    run_id: str = "",
) -> list[UpdateResult]:
    run_id = run_id or "run-" + now.strftime("%Y%m%dT%H%M%S")
    requests = [plan_fetch(store, ticker, tf, now, since) for ticker, tf in series]
    fetched = provider.fetch_many(requests)
    results: list[UpdateResult] = []
    batches: dict[tuple[str, str], tuple[FetchRequest, pd.DataFrame]] = {}
    incomplete: dict[tuple[str, str], list[str]] = {}
    for request, got in zip(requests, fetched, strict=True):
        key = (request.ticker, request.timeframe.code)
        if isinstance(got, Exception):
            log.warning("fetching %s %s failed: %s", *key, got)
            results.append(UpdateResult(*key, "failed", 0, 0, "", str(got)))
        else:
            incomplete[key] = list(got.attrs.get("incomplete_periods", []))
            batches[key] = (request, drop_unclosed(got, request.timeframe, now))
    stored = {
        key: store.read(request.ticker, request.timeframe) for key, (request, _) in batches.items()
    }
    hourly = {ticker: _hourly(store, batches, ticker) for ticker, code in batches if code != "1h"}
    verdicts = validate_batches(
        {
            key: SeriesBatch(
                request.timeframe,
                batch,
                stored[key].iloc[-CONTEXT_CANDLES:],
                hourly.get(key[0]),
            )
            for key, (request, batch) in batches.items()
        },
        now,
        gx_project,
    )
    for key, (request, batch) in batches.items():
        result = _store_series(
            store,
            request,
            batch,
            verdicts.get(key, SeriesVerdict()),
            stored[key],
            now,
            quarantine_root,
            run_id,
        )
        result.incomplete = incomplete.get(key, [])
        results.append(result)
    return results


def update_series(
    store: CandleStore,
    provider: MarketDataProvider,
    ticker: str,
    timeframe: Timeframe,
    now: pd.Timestamp,
    quarantine_root: Path | str,
) -> UpdateResult:
    (result,) = update_many(store, provider, [(ticker, timeframe)], now, quarantine_root)
    return result
