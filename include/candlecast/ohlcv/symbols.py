"""The symbol universe: provider tickers upserted into `symbols`, ranked by USD volume."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg

from candlecast.marketdata import (
    MarketDataProvider,
    ProviderAuthError,
    ProviderError,
    split_pair,
)
from candlecast.ohlcv.validation import validate_symbols

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    upserted: int
    deactivated: int
    ranked: int
    volume_day: str | None  # None: no usable grouped-daily answer, the previous ranking kept
    ranking: str = "updated"  # updated | kept
    warning: str = ""


VOLUME_DAYS_BACK = 3  # the provider's last full day may lag the client's clock


# Stablecoins, fiat, gold-pegged and wrapped/staked coins: no forecastable signal of their own,
# and they would distort a model trained across coins. Still forecastable on request.
NON_FORECASTABLE_BASES = frozenset(
    {
        "USDT",
        "USDC",
        "FDUSD",
        "TUSD",
        "BUSD",
        "DAI",
        "USDP",
        "PYUSD",
        "USDE",
        "USDD",
        "GUSD",
        "USD",
        "EUR",
        "EURI",
        "EURC",
        "GBP",
        "TRY",
        "BRL",
        "AUD",
        "JPY",
        "PAXG",
        "XAUT",
        "WBTC",
        "WETH",
        "WBETH",
        "STETH",
        "WSTETH",
        "CBETH",
        "RETH",
        "BETH",
    }
)


def base_of(ticker: str) -> str:
    try:
        return split_pair(ticker)[0]
    except ValueError:
        return ticker.removeprefix("X:")


def trainable(tickers: list[str]) -> list[str]:
    return [t for t in tickers if base_of(t) not in NON_FORECASTABLE_BASES]


class SymbolsRejected(ValueError):
    def __init__(self, failures: list[dict]) -> None:
        super().__init__(
            "the provider's ticker list failed the symbols suite: "
            + "; ".join(
                f"{f['expectation']}({f['column']}): {f['unexpected_count']}" for f in failures
            )
        )
        self.failures = failures


def _volumes(provider: MarketDataProvider) -> tuple[dict[str, float], str | None, str]:
    """USD volumes of the last full UTC day that has any, looking back a few days (the
    provider's last full day can lag our clock); ({}, None, why) when none answers."""
    why = ""
    for back in range(1, VOLUME_DAYS_BACK + 1):
        day = (provider.now() - timedelta(days=back)).date()
        try:
            volumes = provider.daily_usd_volumes(day)
        except ProviderAuthError:
            raise
        except (ProviderError, OSError) as error:
            why = f"grouped daily for {day} failed: {error}"
            log.warning("%s", why)
            continue
        if volumes:
            return volumes, day.isoformat(), ""
        why = f"grouped daily for {day} was empty"
        log.warning("%s", why)
    return {}, None, why


RANK = """
WITH best AS (  -- a coin takes one place, through its most liquid pair
    SELECT DISTINCT ON (COALESCE(NULLIF(base, ''), ticker)) id, usd_volume_24h
    FROM symbols WHERE active AND usd_volume_24h IS NOT NULL
    ORDER BY COALESCE(NULLIF(base, ''), ticker), usd_volume_24h DESC, ticker
), ranked AS (
    SELECT id, ROW_NUMBER() OVER (ORDER BY usd_volume_24h DESC, id) AS r FROM best
)
UPDATE symbols s SET volume_rank = ranked.r
FROM symbols t LEFT JOIN ranked ON ranked.id = t.id
WHERE s.id = t.id AND s.volume_rank IS DISTINCT FROM ranked.r
"""


def sync_symbols(
    conn: psycopg.Connection, provider: MarketDataProvider, gx_project: Path | None = None
) -> SyncResult:
    """Upsert every provider ticker, mark vanished ones inactive, rank coins by the last full
    day's USD volume. Without a usable grouped-daily answer, volumes and ranks stay as they
    were (the result says so, and the workflow alerts)."""
    tickers = provider.list_tickers()
    if not tickers:
        raise RuntimeError("the provider listed no tickers; refusing to mark every symbol inactive")
    volumes, volume_day, why = _volumes(provider)
    frame = pd.DataFrame([t.__dict__ for t in tickers]).assign(
        usd_volume_24h=[volumes.get(t.ticker) for t in tickers]
    )
    failures = validate_symbols(frame, gx_project)
    if failures:
        raise SymbolsRejected(failures)
    fresh = volume_day is not None
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
                INSERT INTO symbols (ticker, name, base, quote, active, usd_volume_24h, updated_at)
                VALUES (%s, %s, %s, %s, %s, %s, now())
                ON CONFLICT (ticker) DO UPDATE SET
                    name = EXCLUDED.name, base = EXCLUDED.base, quote = EXCLUDED.quote,
                    active = EXCLUDED.active,
                    usd_volume_24h = CASE WHEN %s THEN EXCLUDED.usd_volume_24h
                                          ELSE symbols.usd_volume_24h END,
                    updated_at = now()
                """,
            [
                (t.ticker, t.name, t.base, t.quote, t.active, volumes.get(t.ticker), fresh)
                for t in tickers
            ],
        )
        cur.execute(
            "UPDATE symbols SET active = FALSE, volume_rank = NULL, updated_at = now() "
            "WHERE active AND NOT (ticker = ANY(%s))",
            ([t.ticker for t in tickers],),
        )
        deactivated = cur.rowcount
        if fresh:
            cur.execute(RANK)
        ranked = cur.execute(
            "SELECT count(*) AS n FROM symbols WHERE active AND volume_rank IS NOT NULL"
        ).fetchone()["n"]
    log.info(
        "synced %d symbols (%d deactivated), volume day %s", len(tickers), deactivated, volume_day
    )
    warning = "" if fresh else f"{why}; the previous ranking is kept"
    return SyncResult(
        len(tickers), deactivated, ranked, volume_day, "updated" if fresh else "kept", warning
    )


def top_symbols(conn: psycopg.Connection, n: int) -> list[str]:
    rows = conn.execute(
        "SELECT ticker FROM symbols WHERE active AND volume_rank IS NOT NULL "
        "ORDER BY volume_rank LIMIT %s",
        (n,),
    ).fetchall()
    return [row["ticker"] for row in rows]
