"""Operations: what every other package stands on.

    `db`            PostgreSQL connections and migrations
    `pool`          the request path's PostgreSQL connections
    `redis_conn`    the Redis client and the request path's guard
    `embedded`      embedded PostgreSQL and Redis
    `stack`         `candlecast up` / `down`: the local stack
    `stack_env`     the environment a local stack shares
    `workers`       local Celery workers
    `atomic_files`  files written whole or not at all
    `s3_client`     an S3-compatible object store, conditional writes
    `alerting`      alerts to the log and to Slack

PostgreSQL (`db`: connections and migrations; `pool`: the request path's connections), Redis
(`redis_conn`: the client and the request path's guard), the embedded servers for machines that
have neither (`embedded`), the local stack behind `candlecast up` / `down` (`stack`, `stack_env`),
files written whole or not at all (`atomic_files`), alerts to the log and to Slack (`alerting`).

May import: `candlecast.settings`, `candlecast.timeframes`; nothing else of candlecast.
`alerting` reads the Slack webhook from the Airflow connection `candlecast_slack` when it sends,
so it is not re-exported here: the workflows and the DAGs' notifier import it by its path, and
nothing that serves reaches Airflow through this package.
"""

from candlecast.ops import db, embedded
from candlecast.ops.atomic_files import atomic_write
from candlecast.ops.db import database_url
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
    "database_url",
    "db",
    "down",
    "embedded",
    "ensure_database",
    "redis_client",
    "redis_url",
    "serving_redis_client",
    "stack_env",
    "up",
    "with_database",
]
