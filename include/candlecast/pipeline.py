"""The workflows the DAGs and the CLI run: each returns small, JSON-safe summaries (for XCom)."""

from __future__ import annotations

import logging
from collections.abc import Collection

import pandas as pd

from candlecast.marketdata import get_provider
from candlecast.ohlcv import open_store, quality, update_summary
from candlecast.ohlcv.ingest import update_many
from candlecast.ohlcv.symbols import SymbolsRejected, sync_symbols, top_symbols, trainable
from candlecast.ops import db
from candlecast.ops.alerting import send_alert
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAME_CODES, TIMEFRAMES, candles_between, parse_timeframe

log = logging.getLogger(__name__)


def cli_run_id() -> str:
    return "cli-" + pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%f")


def run_symbol_sync(settings: Settings, run_id: str | None = None) -> dict:
    """Sync symbols (after the symbols suite passes) and record this run's top-N universe."""
    run_id = run_id or cli_run_id()
    with db.connect(settings) as conn:
        try:
            result = sync_symbols(conn, get_provider(settings), settings.gx_dir)
        except SymbolsRejected as error:
            quality.record_symbols_check(conn, run_id, error.failures, 0)
            raise
        quality.record_symbols_check(conn, run_id, [], result.upserted)
        universe = top_symbols(conn, settings.candlecast_top_n)
        quality.record_universe(conn, run_id, settings.candlecast_top_n, universe)
    if result.ranking == "kept":
        send_alert(
            f"symbol_sync {run_id}: no USD volumes, the previous ranking is kept",
            [result.warning, f"universe of {len(universe)} symbols as ranked before"],
        )
    return {**result.__dict__, "universe": len(universe)}


def due_timeframes(run_type: str, logical_date: pd.Timestamp | None) -> list[str]:
    """Timeframes with a candle that can have closed in the hour before a scheduled run;
    every timeframe for runs triggered by an Asset or by hand."""
    if run_type != "scheduled" or logical_date is None:
        return list(TIMEFRAME_CODES)
    stamp = pd.Timestamp(logical_date).tz_convert("UTC")
    return [
        code for code, tf in TIMEFRAMES.items() if tf.floor(stamp) > stamp - pd.Timedelta(hours=1)
    ]


def plan_update(
    settings: Settings, timeframes: list[str], symbols: list[str] | None = None
) -> list[dict]:
    """The top-N universe (or the given symbols) in batches, one mapped task per batch."""
    if not symbols:
        with db.connect(settings) as conn:
            symbols = top_symbols(conn, settings.candlecast_top_n)
    size = settings.candlecast_symbol_batch_size
    return (
        [
            {"tickers": symbols[i : i + size], "timeframes": timeframes}
            for i in range(0, len(symbols), size)
        ]
        if timeframes
        else []
    )


def update_batch(
    settings: Settings,
    tickers: list[str],
    timeframes: list[str] | tuple[str, ...] = TIMEFRAME_CODES,
    since: str | None = None,
    run_id: str | None = None,
) -> dict:
    """Update (or, with `since`, backfill) a batch of symbols; outcomes go to data_quality,
    held candles to quarantine. Returns small JSON-safe counts and findings (for XCom)."""
    run_id = run_id or cli_run_id()
    provider = get_provider(settings)
    store = open_store(settings.store_location)
    now = provider.now()
    series = [(ticker, parse_timeframe(code)) for ticker in tickers for code in timeframes]
    start = None if since is None else pd.Timestamp(since, tz="UTC")
    results = [
        r.as_dict()
        for r in update_many(
            store,
            provider,
            series,
            now,
            settings.quarantine_location,
            start,
            settings.gx_dir,
            run_id,
        )
    ]
    with db.connect(settings) as conn:
        quality.record_batch(conn, run_id, f"{tickers[0]}+{len(tickers)}", results)
    return update_summary.batch_summary(results)


def summarise_update(settings: Settings, batches: list[dict], run_id: str = "") -> dict:
    """Totals of a run, Data Docs rebuilt, and at most one alert for the whole run."""
    from candlecast.ohlcv.validation import build_docs

    totals = update_summary.run_totals(batches)
    docs = build_docs(settings.gx_dir)
    alert = update_summary.run_alert(batches, totals, run_id, str(docs))
    if alert is not None:
        send_alert(*alert)
    return {
        "totals": totals,
        "by_timeframe": update_summary.by_timeframe(batches),
        "problems": sum(len(b["problems"]) for b in batches),
        "alert": None if alert is None else alert[0],
        "data_docs": str(docs),
    }


def review_quarantine(settings: Settings, action: str, entry_id: int | None = None) -> dict:
    """The quarantine review the `quarantine_review` DAG runs (the CLI has the same actions)."""
    from candlecast.ohlcv import quarantine_review

    with db.connect(settings) as conn:
        if action == "list":
            entries = quarantine_review.list_entries(conn, "held")
            return {
                "held": [
                    {k: str(e[k]) for k in ("id", "ticker", "timeframe", "candles", "run_id")}
                    for e in entries
                ]
            }
        if entry_id is None:
            raise ValueError(f"{action} needs an entry_id (see the list action)")
        if action == "release":
            store = open_store(settings.store_location)
            return quarantine_review.release(
                conn, store, int(entry_id), get_provider(settings).now()
            )
        if action == "discard":
            return quarantine_review.discard(conn, int(entry_id))
    raise ValueError(f"unknown action {action!r}; expected list, release or discard")


def run_data_health(settings: Settings, checked_at: pd.Timestamp | None = None) -> dict:
    from candlecast.ohlcv import data_health as health

    provider = get_provider(settings)
    now = provider.now()
    with db.connect(settings) as conn:
        universe = top_symbols(conn, settings.candlecast_top_n)
        reports = health.check_all(open_store(settings.store_location), universe, now)
        alerts = {
            r.timeframe
            for r in reports
            if r.crosses(
                settings.candlecast_health_max_stale_fraction,
                settings.candlecast_health_min_coverage,
            )
        }
        health.record(conn, checked_at or now, reports, alerts)
    if alerts:
        send_alert(
            "data health thresholds crossed",
            [r.summary() for r in reports if r.timeframe in alerts],
        )
    return {r.timeframe: r.summary() for r in reports} | {"alerts": sorted(alerts)}


def train_and_register(settings: Settings, timeframe_code: str, actor: str = "train") -> dict:
    from candlecast.modeling import point_at, publish_model, releases, save_model
    from candlecast.modeling.registry import version_report_path
    from candlecast.modeling.training import report_writer, run_paper_trading, train_timeframe
    from candlecast.modeling.training.gate import gate_against_champion

    timeframe = parse_timeframe(timeframe_code)
    store = open_store(settings.store_location)
    tickers = trainable(store.tickers(timeframe))
    if not tickers:  # before the first ohlcv_update, e.g. a weekly run on a fresh install
        log.warning("no %s series in the store yet: nothing to train", timeframe.code)
        return {"tag": None, "n_symbols": 0, "skipped": "no series in the store"}
    with db.connect(settings) as conn:
        ranked = [t for t in top_symbols(conn, settings.candlecast_top_n) if t in set(tickers)]
    model, folds, panel = train_timeframe(store, tickers, timeframe, top=ranked or tickers)
    paper = run_paper_trading(store, timeframe, model, panel, folds[-1])
    if paper is not None:
        model.info["metrics"]["paper_trading"] = {
            k: v for k, v in paper.items() if k not in ("equity_curve", "trades")
        }
    writer = report_writer(store, timeframe, model, folds, panel, paper)
    with db.connect(settings) as conn:
        gate = gate_against_champion(settings, conn, model, folds[-1], panel, ranked or tickers)
        tag = save_model(settings, conn, model, writer, actor=actor)
        release = releases.release_trained(conn, tag, gate, settings.candlecast_auto_promote, actor)
        report = version_report_path(conn, tag)
    published = publish_model(settings, tag)  # with CANDLECAST_STORE_URL: for every replica
    if published and release["stage"] == "champion":
        point_at(settings, tag)
    headline = model.info["metrics"]["test"].get("all", {})
    skilled = [h for h, skill in enumerate(model.calibration.skill, start=1) if skill]
    log.info("registered %s on %d symbols, skill at %s: %s", tag, len(tickers), skilled, headline)
    return {
        "tag": tag,
        **release,
        "n_symbols": len(tickers),
        "skilled_horizons": skilled,
        "report": report,
        "published": published["archive"] if published else None,
        "test_rank_ic_h1": model.info["metrics"]["test"].get("h1", {}).get("rank_ic"),
        "direction_accuracy": headline.get("direction_accuracy"),
        "mae_ratio_to_random_walk": headline.get("mae_ratio_to_random_walk"),
    }


def ohlcv_changes(summary: dict) -> dict:
    """What an update run changed, for the `candlecast://ohlcv` Asset event's `extra`: series
    written per timeframe (a run that wrote nothing emits no event)."""
    written = {
        tf: row.get("written", 0)
        for tf, row in summary.get("by_timeframe", {}).items()
        if row.get("written")
    }
    return {"series_written": sum(written.values()), "timeframes": written}


def training_due(
    settings: Settings, timeframe_code: str, run_type: str, asked: Collection[str] | None = None
) -> dict:
    """Whether `train_models` retrains a timeframe: never when the run names other timeframes
    (`asked`, a run by hand with `timeframes`); otherwise always on its weekly schedule or by
    hand; on an ohlcv Asset event only when its store gained at least
    CANDLECAST_RETRAIN_MIN_NEW_CANDLES[timeframe] candles since its champion's data end, or
    holds more trainable series than the champion's universe."""
    from candlecast.modeling import releases

    timeframe = parse_timeframe(timeframe_code)
    run_type = getattr(run_type, "value", run_type)  # Airflow's DagRunType or its value
    if asked is not None and timeframe.code not in {parse_timeframe(t).code for t in asked}:
        return {"due": False, "reason": f"this run retrains {', '.join(asked) or 'nothing'}"}
    if run_type != "asset_triggered":
        return {"due": True, "reason": f"{run_type} run"}
    with db.connect(settings) as conn:
        champion = releases.champion_row(conn, timeframe)
    if champion is None or champion["data_end"] is None:
        return {"due": True, "reason": "no champion with a known data end"}
    store = open_store(settings.store_location)
    tickers = trainable(store.tickers(timeframe))
    if len(tickers) > champion["universe_size"]:  # listings, or a first training mid-update
        return {
            "due": True,
            "reason": f"{len(tickers)} {timeframe.code} series in the store; "
            f"{champion['name']}:{champion['version']} was trained on {champion['universe_size']}",
        }
    newest = max(
        (s for s in (store.last_timestamp(t, timeframe) for t in tickers) if s),
        default=None,
    )
    needed = settings.retrain_min_new_candles(timeframe.code)
    gained = candles_between(timeframe, champion["data_end"], newest, needed)
    reason = (
        f"{gained} new {timeframe.code} candles since {champion['name']}:{champion['version']}'s "
        f"data end {champion['data_end']:%Y-%m-%d %H:%M}Z (retrains at {needed})"
    )
    return {"due": gained >= needed, "reason": reason, "new_candles": gained}


def run_score_outcomes(settings: Settings) -> dict:
    """Score every forecast step whose target candle has closed, refresh the rolling figures,
    alert drift, run the paper ledger, then the live gate (the `score_outcomes` DAG)."""
    from candlecast.monitoring import DriftRules, RealisedCandles, monitor
    from candlecast.releasing import decide_live

    provider = get_provider(settings)
    candles = RealisedCandles(open_store(settings.store_location), provider, provider.now())
    rules = DriftRules(
        settings.candlecast_drift_min_outcomes, settings.candlecast_drift_window_days
    )
    with db.connect(settings) as conn:
        result = monitor(conn, candles, rules, send_alert)
        result["live_gate"] = decide_live(settings, conn, candles.now, "score_outcomes")
    return result


def report_period_end(settings: Settings, day: str | None = None) -> pd.Timestamp:
    """The end of `day` (YYYY-MM-DD, UTC), or the provider's now to the hour."""
    if day is None:
        return get_provider(settings).now().floor("h")
    try:
        return pd.Timestamp(day, tz="UTC").normalize() + pd.Timedelta(days=1)
    except ValueError as error:
        raise ValueError(f"--date must be a day like 2025-09-19, got {day!r}") from error


def due_reports(settings: Settings, period_end: pd.Timestamp) -> list[str]:
    """The daily report always; the weekly one on Sunday at the last report hour or later."""
    last_hour = max(int(h) for h in settings.candlecast_report_hours.split(","))
    weekly = period_end.weekday() == 6 and period_end.hour >= last_hour
    return ["daily", "weekly"] if weekly else ["daily"]


def run_report(settings: Settings, kind: str, period_end: pd.Timestamp, send: bool = False) -> dict:
    """Build and save one report (text and PNG under CANDLECAST_HOME/reports); with `send`,
    post its text to Slack once per kind and period (a re-run sends nothing; a failed post is
    left for `run_due_reports`' next run to retry once)."""
    from candlecast.monitoring import build_report, delivery, save_report
    from candlecast.ops.alerting import post_to_slack

    with db.connect(settings) as conn:
        report = build_report(conn, kind, period_end, settings.candlecast_rank_fee)
        paths = save_report(report, settings.reports_dir)
        sent = False
        if send and delivery.claim(conn, kind, report.period_end, paths, report.text):
            sent = delivery.deliver(conn, kind, report.period_end, report.text, post_to_slack)
    return {
        "kind": kind,
        "period_end": str(report.period_end),
        "text": str(paths[0]),
        "plot": str(paths[1]),
        "sent": sent,
        "report": report.text,
    }


def run_due_reports(settings: Settings, period_end: pd.Timestamp | None = None) -> dict:
    """The `reports` DAG: first the reports whose post failed last time (each retried once),
    then the reports due at `period_end` (the provider's now to the hour by default)."""
    from candlecast.monitoring import delivery
    from candlecast.ops.alerting import post_to_slack

    with db.connect(settings) as conn:
        retried = delivery.retry_failed(conn, post_to_slack)
    end = report_period_end(settings) if period_end is None else period_end
    sent = [
        {k: v for k, v in run_report(settings, kind, end, send=True).items() if k != "report"}
        for kind in due_reports(settings, end)
    ]
    return {"retried": retried, "reports": sent}
