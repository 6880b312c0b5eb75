"""`candlecast` command line: the same workflows the DAGs run, plus local service control."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from candlecast.settings import get_settings
from candlecast.timeframes import TIMEFRAME_CODES, TimeframeError, parse_timeframe


def _print(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


def cmd_services(args) -> None:
    from candlecast.ops import embedded

    settings = get_settings()
    if args.action == "start":
        from candlecast.ops import database_url, redis_url

        print(f"DATABASE_URL={database_url(settings)}\nREDIS_URL={redis_url(settings)}")
    else:
        stopped = {
            "postgres": embedded.stop_postgres(settings.home),
            "redis": embedded.stop_redis(settings.home),
        }
        _print({"stopped_embedded": stopped})


def cmd_env(args) -> None:
    """Print `export` lines for the local stack (starting embedded servers where needed)."""
    import shlex
    from pathlib import Path

    from candlecast.ops import stack_env

    for key, value in stack_env(get_settings(), Path(args.project_dir).resolve()).items():
        print(f"export {key}={shlex.quote(value)}")


def cmd_up(args) -> None:
    from pathlib import Path

    from candlecast.ops import up

    settings = get_settings()
    executor = args.executor or settings.candlecast_executor
    workers = args.workers or settings.candlecast_celery_workers
    up(settings, Path(args.project_dir).resolve(), executor, workers)


def cmd_down(args) -> None:
    from candlecast.ops import down

    down(get_settings())


def cmd_migrate(args) -> None:
    from candlecast.ops import db

    settings = get_settings()
    db.migrate(db.database_url(settings))
    print("schema is up to date")


def cmd_sync_symbols(args) -> None:
    from candlecast.pipeline import run_symbol_sync

    _print(run_symbol_sync(get_settings()))


def _update(args, since: str | None = None) -> None:
    from tqdm import tqdm

    from candlecast.pipeline import cli_run_id, plan_update, summarise_update, update_batch

    settings = get_settings()
    if args.top:
        settings = settings.model_copy(update={"candlecast_top_n": args.top})
    timeframes = [parse_timeframe(t).code for t in args.timeframe] or list(TIMEFRAME_CODES)
    symbols = _symbols(args.symbols) if args.symbols else None
    batches = plan_update(settings, timeframes, symbols)
    if not batches:
        raise RuntimeError("no symbols to update: run `candlecast sync-symbols` first")
    run_id = cli_run_id()
    results = []
    with tqdm(
        total=sum(len(b["tickers"]) for b in batches), unit="symbol", disable=None
    ) as progress:
        for batch in batches:
            results.append(update_batch(settings, since=since, run_id=run_id, **batch))
            progress.update(len(batch["tickers"]))
    summary = summarise_update(settings, results, run_id)
    _print(
        {
            "series": summary["totals"],
            "by_timeframe": summary["by_timeframe"],
            "problems": [
                f"{p['series']} {p['severity']}: {p['text']}"
                for r in results
                for p in r["problems"]
            ],
            "notes": [n for r in results for n in r["notes"]],
            "alert": summary["alert"],
            "data_docs": summary["data_docs"],
        }
    )


def _symbols(names: list[str]) -> list[str]:
    """Tickers as the API reads them ('btcusdt' is X:BTCUSDT), each once, in order; every bad
    name is named, and none may address a path outside the store."""
    from candlecast.api import normalise_ticker
    from candlecast.ohlcv import ticker_filename

    tickers, bad = [], []
    for name in names:
        try:
            ticker = normalise_ticker(name)
            ticker_filename(ticker)
        except ValueError:
            bad.append(name)
            continue
        if ticker not in tickers:
            tickers.append(ticker)
    if bad:
        raise ValueError(
            "--symbols: not a ticker like 'X:BTCUSDT' (letters and digits, optional 'X:'; a "
            "name with '/', '..' or other characters would address a path outside the store): "
            + ", ".join(repr(b) for b in bad)
        )
    return tickers


def cmd_update(args) -> None:
    _update(args)


def cmd_backfill(args) -> None:
    _update(args, since=args.since)


def cmd_store_info(args) -> None:
    from candlecast.ohlcv import open_store

    store = open_store(get_settings().store_location)
    codes = [parse_timeframe(t).code for t in args.timeframe] or list(TIMEFRAME_CODES)
    print(
        f"{'timeframe':<9} {'series':>6} {'rows':>10} {'first candle':<26} "
        f"{'last candle':<26} {'gappy':>6} {'missing':>8}"
    )
    for code in codes:
        timeframe = parse_timeframe(code)
        infos = [store.series_info(t, timeframe) for t in store.tickers(timeframe)]
        filled = [i for i in infos if i["rows"]]
        first = min((i["first"] for i in filled), default="-")
        last = max((i["last"] for i in filled), default="-")
        print(
            f"{code:<9} {len(infos):>6} {sum(i['rows'] for i in infos):>10} {str(first):<26} "
            f"{str(last):<26} {sum(1 for i in infos if i['gaps']):>6} "
            f"{sum(i['missing_candles'] for i in infos):>8}"
        )


def cmd_store_export(args) -> None:
    from candlecast.api import normalise_ticker
    from candlecast.ohlcv import open_store

    ticker, timeframe = normalise_ticker(args.symbol), parse_timeframe(args.timeframe)
    store = open_store(get_settings().store_location)
    if not store.exists(ticker, timeframe):
        raise RuntimeError(f"the store has no {ticker} {timeframe.code} series")
    frame = store.read(ticker, timeframe)
    if args.output is None:
        frame.to_csv(sys.stdout, index=False)
    elif args.output.endswith(".parquet"):
        frame.to_parquet(args.output, index=False)
    else:
        frame.to_csv(args.output, index=False)


def cmd_health(args) -> None:
    from candlecast.pipeline import run_data_health

    _print(run_data_health(get_settings()))


def cmd_train(args) -> None:
    from candlecast.pipeline import train_and_register

    for code in args.timeframe or TIMEFRAME_CODES:
        _print(train_and_register(get_settings(), parse_timeframe(code).code))


def cmd_replay(args) -> None:
    from candlecast.replay.workflow import replay_timeframe

    symbols = _symbols(args.symbols) if args.symbols else None
    _print(
        replay_timeframe(
            get_settings(),
            parse_timeframe(args.timeframe).code,
            args.start,
            args.end,
            args.every,
            args.top,
            symbols,
            args.output,
            args.fee,
        )  # fmt: skip
    )


def _add_replay_command(sub) -> None:
    replay = sub.add_parser(
        "replay", help="forecasts at past dates by the champion of each date, scored"
    )
    replay.add_argument("--timeframe", required=True, help="1h, 4h, 1d, 1w or 1M")
    replay.add_argument("--start", required=True, help="first date, e.g. 2021-05-20 (UTC)")
    replay.add_argument("--end", required=True, help="last date, e.g. 2021-06-19T00:00 (UTC)")
    replay.add_argument("--every", default="24h", help="spacing of the dates: 24h, 4h, 1d, 1w, 1M")
    which = replay.add_mutually_exclusive_group()
    which.add_argument("--top", type=int, help="the N coins with most USD volume (today's rank)")
    which.add_argument("--symbols", nargs="+", help="these tickers, e.g. X:BTCUSDT")
    replay.add_argument("--fee", type=float, default=0.001, help="a side, for the spread")
    replay.add_argument("--output", help="folder (default: CANDLECAST_HOME/replays/...)")
    replay.set_defaults(func=cmd_replay)


def cmd_score_outcomes(args) -> None:
    from candlecast.pipeline import run_score_outcomes

    _print(run_score_outcomes(get_settings()))


def cmd_report(args) -> None:
    from candlecast.pipeline import report_period_end, run_report

    settings = get_settings()
    result = run_report(settings, args.kind, report_period_end(settings, args.date))
    print(result["report"])
    print(f"\n(saved {result['text']} and {result['plot']})", file=sys.stderr)


def cmd_rank(args) -> None:
    from candlecast.api import ApiError
    from candlecast.modeling import serving_reference
    from candlecast.serving import build_forecaster, rank, ranking_table

    settings, timeframe = get_settings(), parse_timeframe(args.timeframe)
    forecaster = build_forecaster(
        settings, {timeframe.code: serving_reference(settings, timeframe)}
    )
    symbols = _symbols(args.symbols) if args.symbols else None
    try:
        print(ranking_table(rank(forecaster, timeframe, args.horizon, symbols), args.top))
    except ApiError as error:
        raise RuntimeError(error.body()["error"]) from error


def cmd_keys_create(args) -> None:
    from candlecast.api import keys as api_keys
    from candlecast.ops import db

    settings = get_settings()
    rate, burst = args.rate_per_minute, args.burst
    rate = settings.candlecast_api_key_rate_per_minute if rate is None else rate
    burst = settings.candlecast_api_key_burst if burst is None else burst
    with db.connect(settings) as conn:
        key, plaintext = api_keys.create_key(conn, args.name, rate, burst)
    print(plaintext)
    print(
        f"API key {key.prefix!r} ({key.name}, {rate}/min, burst {burst}) created. This is the "
        "only time it is shown: store it now.",
        file=sys.stderr,
    )


def cmd_keys_list(args) -> None:
    from candlecast.api import keys as api_keys
    from candlecast.ops import db

    with db.connect(get_settings()) as conn:
        keys = api_keys.list_keys(conn)
    columns = ("name", "prefix", "rate_per_minute", "burst", "created_at", "revoked_at")
    print(
        f"{'name':<24} {'prefix':<12} {'rate/min':>8} {'burst':>6} {'created':<20} "
        f"{'revoked':<20} last used"
    )
    for key in keys:
        name, prefix, rate, burst, created, revoked = (key[c] for c in columns)
        print(
            f"{name[:24]:<24} {prefix:<12} {rate:>8} {burst:>6} {_when(created):<20} "
            f"{_when(revoked):<20} {_when(key['last_used_at'])}"
        )


def _when(value) -> str:
    from datetime import UTC

    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def cmd_keys_revoke(args) -> None:
    from candlecast.api import keys as api_keys
    from candlecast.ops import db

    settings = get_settings()
    with db.connect(settings) as conn:
        if not api_keys.revoke_key(conn, args.prefix):
            raise ValueError(f"no API key has the prefix {args.prefix!r}")
    print(
        f"revoked {args.prefix}: refused by running services within "
        f"{settings.candlecast_api_key_cache_seconds:g} s"
    )


def cmd_quarantine(args) -> None:
    from candlecast.marketdata import get_provider
    from candlecast.ohlcv import open_store, quarantine_review
    from candlecast.ops import db

    settings = get_settings()
    with db.connect(settings) as conn:
        if args.quarantine_command == "list":
            status = None if args.status == "all" else args.status
            entries = quarantine_review.list_entries(conn, status)
            print(
                f"{'id':>5} {'status':<9} {'ticker':<16} {'tf':<3} {'candles':>7} "
                f"{'first held candle':<26} {'run':<32} reason"
            )
            for e in entries:
                reasons = ", ".join(f["column"] for f in e["reasons"].get("failures", []))
                print(
                    f"{e['id']:>5} {e['status']:<9} {e['ticker']:<16} {e['timeframe']:<3} "
                    f"{e['candles']:>7} {str(e['first_candle']):<26} {e['run_id'][:32]:<32} "
                    f"{reasons}"
                )
        elif args.quarantine_command == "show":
            _print(quarantine_review.show(conn, args.id))
        elif args.quarantine_command == "release":
            now = get_provider(settings).now()
            _print(
                quarantine_review.release(conn, open_store(settings.store_location), args.id, now)
            )
        else:
            _print(quarantine_review.discard(conn, args.id))


def cmd_models(args) -> None:
    from candlecast.releasing import release_action

    settings = get_settings()
    command = args.models_command
    if command == "list":
        _print_models(settings, args.timeframe)
        return
    options = {
        "promote": {"tag": getattr(args, "tag", None), "force": getattr(args, "force", False)},
        "rollback": {"timeframe": getattr(args, "timeframe", None)},
        "prune": {"keep": getattr(args, "keep", 3)},
        "decide": {},
    }[command]
    import getpass

    actor = f"cli:{getpass.getuser()}"
    reason = getattr(args, "reason", "")
    _print(release_action(settings, command, reason=reason, actor=actor, **options))


def _print_models(settings, timeframe: str | None) -> None:
    """Per timeframe: the champion, then the other versions newest first, with their gates."""
    from candlecast.modeling import releases
    from candlecast.monitoring.live_release import summary
    from candlecast.ops import db

    code = None if timeframe is None else parse_timeframe(timeframe).code
    with db.connect(settings) as conn:
        rows = releases.versions(conn, code)
    print(f"{'timeframe':<9} {'stage':<11} {'version':<44} {'trained':<20} {'data end':<20} gate")
    order = {
        "champion": 0,
        "challenger": 1,
        "retired": 2,
        "rolled_back": 3,
        "rejected": 4,
        "pruned": 5,
    }
    for row in sorted(rows, key=lambda r: (r["timeframe"], order[r["stage"]])):
        gate = row["gate"] or {}
        verdict = gate.get("verdict", "-")
        reasons = "; ".join(gate.get("reasons", [])[:2])
        print(
            f"{row['timeframe']:<9} {row['stage']:<11} {row['tag']:<44} "
            f"{_when(row['trained_at']):<20} {_when(row['data_end']):<20} {verdict}"
            + (f" ({reasons})" if reasons else "")
        )
        if row["stage"] == "challenger" or row["live_gate"]:
            print(f"{'':<9} {'':<11} {summary(row['live_gate'])}")


def _add_models_commands(sub) -> None:
    models = sub.add_parser(
        "models", help="releases: champion and challengers per timeframe"
    ).add_subparsers(dest="models_command", required=True)
    listing = models.add_parser("list", help="per timeframe: champion, challengers, gate verdicts")
    listing.add_argument("--timeframe")
    listing.set_defaults(func=cmd_models)
    promote = models.add_parser("promote", help="make a version its timeframe's champion")
    promote.add_argument("tag", help="e.g. candlecast-1h:20260101t020000123456")
    promote.add_argument("--reason", default="", help="recorded in model_releases")
    promote.add_argument("--force", action="store_true", help="past a failed gate (recorded)")
    promote.set_defaults(func=cmd_models)
    rollback = models.add_parser("rollback", help="back to the previous champion")
    rollback.add_argument("timeframe")
    rollback.add_argument("--reason", default="", help="recorded in model_releases")
    rollback.set_defaults(func=cmd_models)
    prune = models.add_parser(
        "prune", help="remove old challengers from the model store (champions stay)"
    )
    prune.add_argument("--keep", type=int, default=3, help="newest challengers kept per timeframe")
    prune.set_defaults(func=cmd_models)
    decide = models.add_parser(
        "decide", help="run the live gate now (score-outcomes runs it after each pass)"
    )
    decide.set_defaults(func=cmd_models)


def cmd_bento_build(args) -> None:
    from pathlib import Path

    from candlecast.bento_build import build_pinned_bento

    built = build_pinned_bento(get_settings(), Path(args.project_dir).resolve())
    _print(built)
    print(
        f"built {built['bento']}: serve it with `make serve BENTO={built['bento']}`",
        file=sys.stderr,
    )


def _add_bento_commands(sub) -> None:
    bento = sub.add_parser("bento", help="the release artifact").add_subparsers(
        dest="bento_command", required=True
    )
    build = bento.add_parser(
        "build",
        help="a Bento carrying each timeframe's champion, served whatever is promoted later",
    )
    build.add_argument("--project-dir", default=".", help="the build context (bentofile.yaml)")
    build.set_defaults(func=cmd_bento_build)


def _add_quarantine_commands(sub) -> None:
    review = sub.add_parser("quarantine", help="review held candles").add_subparsers(
        dest="quarantine_command", required=True
    )
    listing = review.add_parser("list", help="held entries (or --status all|released|discarded)")
    listing.add_argument(
        "--status", default="held", choices=["held", "released", "discarded", "all"]
    )
    listing.set_defaults(func=cmd_quarantine)
    for name, text in (
        ("show", "an entry's reasons and held candles"),
        ("release", "write the held candles through the normal merge"),
        ("discard", "drop the held candles for good (the files are kept for the record)"),
    ):
        command = review.add_parser(name, help=text)
        command.add_argument("id", type=int, help="the entry's id, as `quarantine list` shows it")
        command.set_defaults(func=cmd_quarantine)


def _add_keys_commands(sub) -> None:
    keys = sub.add_parser("keys", help="API keys of the prediction service").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="a new key, printed once")
    create.add_argument("--name", required=True, help="who or what uses it")
    create.add_argument("--rate-per-minute", type=int, help="sustained limit (default: settings)")
    create.add_argument("--burst", type=int, help="requests at once (default: settings)")
    create.set_defaults(func=cmd_keys_create)
    keys.add_parser("list", help="name, prefix, limits, created, revoked, last used").set_defaults(
        func=cmd_keys_list
    )
    revoke = keys.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("prefix", help="the key's prefix, as `keys list` shows it")
    revoke.set_defaults(func=cmd_keys_revoke)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="candlecast", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    services = sub.add_parser("services", help="start/stop the embedded PostgreSQL and Redis")
    services.add_argument("action", choices=["start", "stop"])
    services.set_defaults(func=cmd_services)
    env = sub.add_parser("env", help="print the shared environment of the local stack")
    env.add_argument("--project-dir", default=".")
    env.set_defaults(func=cmd_env)
    up = sub.add_parser("up", help="start the local stack and run the DAGs once")
    up.add_argument("--project-dir", default=".")
    up.add_argument(
        "--executor", choices=["local", "celery"], help="default: CANDLECAST_EXECUTOR (local)"
    )
    up.add_argument(
        "--workers", type=int, help="Celery workers (default: CANDLECAST_CELERY_WORKERS, 2)"
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=cmd_down)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("sync-symbols", help="upsert and rank provider symbols").set_defaults(
        func=cmd_sync_symbols
    )
    for name, func, text in (
        ("update", cmd_update, "fetch what is new for every series (incremental)"),
        ("backfill", cmd_backfill, "re-fetch every series from --since (within retention)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--timeframe", action="append", default=[])
        which = command.add_mutually_exclusive_group()
        which.add_argument("--top", type=int, help="the N symbols with most USD volume")
        which.add_argument("--symbols", nargs="+", help="these tickers, e.g. X:BTCUSD")
        if name == "backfill":
            command.add_argument("--since", required=True, help="YYYY-MM-DD (UTC)")
        command.set_defaults(func=func)
    store = sub.add_parser("store", help="inspect the Parquet store").add_subparsers(
        dest="store_command", required=True
    )
    info = store.add_parser("info", help="series, rows, first/last candle and gaps")
    info.add_argument("--timeframe", action="append", default=[])
    info.set_defaults(func=cmd_store_info)
    export = store.add_parser("export", help="one series as CSV (stdout) or Parquet")
    export.add_argument("symbol")
    export.add_argument("timeframe")
    export.add_argument("--output", help="a .parquet or .csv path (default: CSV on stdout)")
    export.set_defaults(func=cmd_store_export)
    sub.add_parser("health", help="stale series, gaps, spikes, coverage").set_defaults(
        func=cmd_health
    )
    train = sub.add_parser("train", help="train and register models")
    train.add_argument("--timeframe", action="append", default=[])
    train.set_defaults(func=cmd_train)
    sub.add_parser(
        "score-outcomes", help="score closed forecast steps, rolling figures, drift, paper ledger"
    ).set_defaults(func=cmd_score_outcomes)
    report = sub.add_parser("report", help="the daily or weekly report (text; PNG saved beside)")
    report.add_argument("kind", choices=["daily", "weekly"])
    report.add_argument("--date", help="the day it ends with, YYYY-MM-DD (default: now)")
    report.set_defaults(func=cmd_report)
    _add_replay_command(sub)
    ranking = sub.add_parser("rank", help="the coins ranked by predicted relative return")
    ranking.add_argument("--timeframe", required=True)
    ranking.add_argument("--horizon", type=int, required=True, choices=range(1, 31), metavar="1-30")
    ranking.add_argument("--top", type=int, help="print only the N best (default: all)")
    ranking.add_argument("--symbols", nargs="+", help="these tickers instead of the universe")
    ranking.set_defaults(func=cmd_rank)
    _add_keys_commands(sub)
    _add_quarantine_commands(sub)
    _add_models_commands(sub)
    _add_bento_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        args.func(args)
    except (TimeframeError, RuntimeError, ValueError) as error:
        parser.exit(2, f"candlecast: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
