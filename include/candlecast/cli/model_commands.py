"""The model commands: train, score outcomes, reports, replays, the ranking, releases and the pinned Bento."""

from __future__ import annotations

import sys

from candlecast.cli.output import print_json, tickers_from, when
from candlecast.settings import get_settings
from candlecast.timeframes import TIMEFRAME_CODES, parse_timeframe


def cmd_train(args) -> None:
    from candlecast.pipeline import train_and_register

    for code in args.timeframe or TIMEFRAME_CODES:
        print_json(train_and_register(get_settings(), parse_timeframe(code).code))


def cmd_replay(args) -> None:
    from candlecast.replay.workflow import replay_timeframe

    symbols = tickers_from(args.symbols) if args.symbols else None
    print_json(
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

    print_json(run_score_outcomes(get_settings()))


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
    symbols = tickers_from(args.symbols) if args.symbols else None
    try:
        print(ranking_table(rank(forecaster, timeframe, args.horizon, symbols), args.top))
    except ApiError as error:
        raise RuntimeError(error.body()["error"]) from error


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
    print_json(release_action(settings, command, reason=reason, actor=actor, **options))


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
            f"{when(row['trained_at']):<20} {when(row['data_end']):<20} {verdict}"
            + (f" ({reasons})" if reasons else "")
        )
        if row["stage"] == "challenger" or row["live_gate"]:
            print(f"{'':<9} {'':<11} {summary(row['live_gate'])}")


def add_models_commands(sub) -> None:
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
    print_json(built)
    print(
        f"built {built['bento']}: serve it with `make serve BENTO={built['bento']}`",
        file=sys.stderr,
    )


def add_bento_commands(sub) -> None:
    bento = sub.add_parser("bento", help="the release artifact").add_subparsers(
        dest="bento_command", required=True
    )
    build = bento.add_parser(
        "build",
        help="a Bento carrying each timeframe's champion, served whatever is promoted later",
    )
    build.add_argument("--project-dir", default=".", help="the build context (bentofile.yaml)")
    build.set_defaults(func=cmd_bento_build)


def add_training_commands(sub) -> None:
    """train, score-outcomes, report, replay, rank"""
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
