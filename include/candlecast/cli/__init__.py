"""`candlecast` command line: the same workflows the DAGs run, plus local service control.

| module           | commands |
|------------------|----------|
| `stack_commands` | services, env, up, down, migrate |
| `data_commands`  | sync-symbols, update, backfill, store info/export, health, quarantine |
| `model_commands` | train, score-outcomes, report, replay, rank, models, bento build |
| `key_commands`   | keys create/list/revoke |
| `output`         | what they print (JSON, times) and the tickers `--symbols` names |
"""

from __future__ import annotations

import argparse
import logging
import sys

from candlecast.cli.data_commands import add_data_commands, add_quarantine_commands
from candlecast.cli.key_commands import add_keys_commands
from candlecast.cli.model_commands import (
    add_bento_commands,
    add_models_commands,
    add_training_commands,
)
from candlecast.cli.stack_commands import add_stack_commands
from candlecast.timeframes import TimeframeError

DESCRIPTION = (
    "`candlecast` command line: the same workflows the DAGs run, plus local service control."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="candlecast", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_stack_commands(sub)
    add_data_commands(sub)
    add_training_commands(sub)
    add_keys_commands(sub)
    add_quarantine_commands(sub)
    add_models_commands(sub)
    add_bento_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        args.func(args)
    except (TimeframeError, RuntimeError, ValueError) as error:
        parser.exit(2, f"candlecast: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
