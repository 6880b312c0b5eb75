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
    from candlecast import localservices

    settings = get_settings()
    if args.action == "start":
        database_url, redis_url = localservices.resolve_urls(settings)
        print(f"DATABASE_URL={database_url}\nREDIS_URL={redis_url}")
    else:
        stopped = {
            "postgres": localservices.stop_postgres(settings.home),
            "redis": localservices.stop_redis(settings.home),
        }
        _print({"stopped_embedded": stopped})


def cmd_env(args) -> None:
    """Print `export` lines for the local stack (starting embedded servers where needed)."""
    import shlex
    from pathlib import Path

    from candlecast.stackenv import stack_env

    for key, value in stack_env(get_settings(), Path(args.project_dir).resolve()).items():
        print(f"export {key}={shlex.quote(value)}")


def cmd_up(args) -> None:
    from pathlib import Path

    from candlecast.stack import up

    up(get_settings(), Path(args.project_dir).resolve())


def cmd_down(args) -> None:
    from candlecast.stack import down

    down(get_settings())


def cmd_migrate(args) -> None:
    from candlecast import db

    settings = get_settings()
    db.migrate(db.database_url(settings))
    print("schema is up to date")


def cmd_sync_symbols(args) -> None:
    from candlecast.pipeline import run_symbol_sync

    _print(run_symbol_sync(get_settings()))


def cmd_update(args) -> None:
    from candlecast.pipeline import universe_batches, update_batch

    settings = get_settings()
    timeframes = tuple(parse_timeframe(t).code for t in args.timeframe) or TIMEFRAME_CODES
    for batch in universe_batches(settings, args.symbols):
        _print(update_batch(settings, batch, timeframes))


def cmd_train(args) -> None:
    from candlecast.pipeline import train_and_register

    for code in args.timeframe or TIMEFRAME_CODES:
        _print(train_and_register(get_settings(), parse_timeframe(code).code))


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
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=cmd_down)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("sync-symbols", help="upsert and rank provider symbols").set_defaults(
        func=cmd_sync_symbols
    )
    update = sub.add_parser("update", help="incrementally update the Parquet store")
    update.add_argument("--timeframe", action="append", default=[])
    update.add_argument("--symbols", nargs="+")
    update.set_defaults(func=cmd_update)
    train = sub.add_parser("train", help="train and register models")
    train.add_argument("--timeframe", action="append", default=[])
    train.set_defaults(func=cmd_train)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        args.func(args)
    except (TimeframeError, RuntimeError) as error:
        parser.exit(2, f"candlecast: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
