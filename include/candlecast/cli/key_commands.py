"""API keys of the prediction service: create (printed once), list, revoke."""

from __future__ import annotations

import sys

from candlecast.cli.output import when
from candlecast.settings import get_settings


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
            f"{name[:24]:<24} {prefix:<12} {rate:>8} {burst:>6} {when(created):<20} "
            f"{when(revoked):<20} {when(key['last_used_at'])}"
        )


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


def add_keys_commands(sub) -> None:
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
