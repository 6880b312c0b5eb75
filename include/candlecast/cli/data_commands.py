"""The data commands: symbols, update and backfill, the store, data health, the quarantine review."""

from __future__ import annotations

import sys

from candlecast.cli.output import print_json, tickers_from
from candlecast.settings import get_settings
from candlecast.timeframes import TIMEFRAME_CODES, parse_timeframe


def cmd_sync_symbols(args) -> None:
    from candlecast.pipeline import run_symbol_sync

    print_json(run_symbol_sync(get_settings()))


def _update(args, since: str | None = None) -> None:
    from tqdm import tqdm

    from candlecast.pipeline import cli_run_id, plan_update, summarise_update, update_batch

    settings = get_settings()
    if args.top:
        settings = settings.model_copy(update={"candlecast_top_n": args.top})
    timeframes = [parse_timeframe(t).code for t in args.timeframe] or list(TIMEFRAME_CODES)
    symbols = tickers_from(args.symbols) if args.symbols else None
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
    print_json(
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

    print_json(run_data_health(get_settings()))


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
            print_json(quarantine_review.show(conn, args.id))
        elif args.quarantine_command == "release":
            now = get_provider(settings).now()
            print_json(
                quarantine_review.release(conn, open_store(settings.store_location), args.id, now)
            )
        else:
            print_json(quarantine_review.discard(conn, args.id))


def add_quarantine_commands(sub) -> None:
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


def add_data_commands(sub) -> None:
    """sync-symbols, update, backfill, store, health"""
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
