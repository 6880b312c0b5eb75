"""Operations: what every other package stands on.

PostgreSQL (`db`: connections and migrations; `pool`: the request path's connections), Redis
(`redis_conn`: the client and the request path's guard), the embedded servers for machines that
have neither (`embedded`), the local stack behind `candlecast up` / `down` (`stack`, `stack_env`),
alerts to the log and Slack (`alerting`), files written whole or not at all (`files`).

May import: `candlecast.settings`, `candlecast.timeframes`; nothing else of candlecast.
"""

from candlecast.ops import db, embedded
from candlecast.ops.alerting import send_alert, task_failure_alert
from candlecast.ops.db import connect, database_url, ensure_schema, migrate, sqlalchemy_url
from candlecast.ops.files import atomic_write
from candlecast.ops.pool import ConnectionPool, DatabaseUnavailable
from candlecast.ops.redis_conn import (
    REDIS_RETRY_PAUSE_SECONDS,
    GuardedRedis,
    redis_client,
    redis_url,
    serving_redis_client,
)
from candlecast.ops.stack import down, up
from candlecast.ops.stack_env import ensure_database, stack_env, with_database

__all__ = [
    "REDIS_RETRY_PAUSE_SECONDS",
    "ConnectionPool",
    "DatabaseUnavailable",
    "GuardedRedis",
    "atomic_write",
    "connect",
    "database_url",
    "db",
    "down",
    "embedded",
    "ensure_database",
    "ensure_schema",
    "migrate",
    "redis_client",
    "redis_url",
    "send_alert",
    "serving_redis_client",
    "sqlalchemy_url",
    "stack_env",
    "task_failure_alert",
    "up",
    "with_database",
]
