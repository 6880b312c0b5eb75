"""GET /healthz: each dependency ok/degraded/down, the overall status, and the access mode."""

from __future__ import annotations

from candlecast.api import ComponentHealth, Health
from candlecast.ops import ConnectionPool, DatabaseUnavailable, GuardedRedis
from candlecast.serving.fresh_candles import ProviderState
from candlecast.timeframes import TIMEFRAME_CODES


def access_mode(pool: ConnectionPool, require_key: bool = False) -> str:
    """closed when every caller needs a key (CANDLECAST_REQUIRE_API_KEY); otherwise open when no
    unrevoked API key exists (requests need none), else keys."""
    if require_key:
        return "closed"
    try:
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL) AS any"
            ).fetchone()
    except DatabaseUnavailable:
        return "unknown"
    return "keys" if row["any"] else "open"


def check_health(
    pool: ConnectionPool,
    redis: GuardedRedis,
    provider_state: ProviderState,
    model_tags: dict[str, str],
    require_key: bool = False,
) -> Health:
    postgres = (
        ComponentHealth(status="ok")
        if pool.ping()
        else ComponentHealth(status="down", detail="forecasts are served but not stored")
    )
    cache = (
        ComponentHealth(status="ok")
        if redis.ping()
        else ComponentHealth(status="down", detail="candles come from the provider on every call")
    )
    missing = [code for code in TIMEFRAME_CODES if code not in model_tags]
    models = ComponentHealth(
        status="ok" if not missing else ("degraded" if model_tags else "down"),
        detail=", ".join(f"{code}={tag}" for code, tag in model_tags.items())
        + (f"; missing {', '.join(missing)}" if missing else ""),
    )
    failure = provider_state.last_failure()
    provider = (
        ComponentHealth(
            status="down", detail=f"last call failed ({failure}); cached candles served as stale"
        )
        if failure is not None
        else ComponentHealth(status="ok")
    )
    components = (postgres, cache, models, provider)
    if models.status == "down":
        overall = "down"
    elif all(c.status == "ok" for c in components):
        overall = "ok"
    else:
        overall = "degraded"
    return Health(
        status=overall,
        access=access_mode(pool, require_key),
        postgres=postgres,
        redis=cache,
        models=models,
        provider=provider,
    )
