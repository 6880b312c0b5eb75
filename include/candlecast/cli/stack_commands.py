"""Local service control: the embedded servers, the stack's environment, `up`/`down`, migrations."""

from __future__ import annotations

from candlecast.cli.output import print_json
from candlecast.settings import get_settings


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
        print_json({"stopped_embedded": stopped})


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


def add_stack_commands(sub) -> None:
    """services, env, up, down, migrate"""
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
