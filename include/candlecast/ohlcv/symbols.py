"""The symbol universe: provider tickers upserted into `symbols`, ranked by USD volume."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg

from candlecast.marketdata import MarketDataProvider, split_pair
from candlecast.ohlcv.validation import validate_symbols

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    upserted: int
    deactivated: int
    ranked: int
    volume_day: str


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


def sync_symbols(
    conn: psycopg.Connection, provider: MarketDataProvider, gx_project: Path | None = None
) -> SyncResult:
    """Upsert every provider ticker, mark vanished ones inactive, rank by last full day's USD volume."""
    tickers = provider.list_tickers()
    if not tickers:
        raise RuntimeError("the provider listed no tickers; refusing to mark every symbol inactive")
    volume_day = (provider.now() - timedelta(days=1)).date()
    volumes = provider.daily_usd_volumes(volume_day)
    frame = pd.DataFrame([t.__dict__ for t in tickers]).assign(
        usd_volume_24h=[volumes.get(t.ticker) for t in tickers]
    )
    failures = validate_symbols(frame, gx_project)
    if failures:
        raise SymbolsRejected(failures)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
                INSERT INTO symbols (ticker, name, base, quote, active, usd_volume_24h, updated_at)
                VALUES (%s, %s, %s, %s, %s, %s, now())
                ON CONFLICT (ticker) DO UPDATE SET
                    name = EXCLUDED.name, base = EXCLUDED.base, quote = EXCLUDED.quote,
                    active = EXCLUDED.active, usd_volume_24h = EXCLUDED.usd_volume_24h,
                    updated_at = now()
                """,
            [(t.ticker, t.name, t.base, t.quote, t.active, volumes.get(t.ticker)) for t in tickers],
        )
        cur.execute(
            "UPDATE symbols SET active = FALSE, volume_rank = NULL, updated_at = now() "
            "WHERE active AND NOT (ticker = ANY(%s))",
            ([t.ticker for t in tickers],),
        )
        deactivated = cur.rowcount
        cur.execute(
            """
                WITH ranked AS (
                    SELECT id, ROW_NUMBER() OVER (ORDER BY usd_volume_24h DESC NULLS LAST, ticker) AS r
                    FROM symbols WHERE active
                )
                UPDATE symbols s SET volume_rank = ranked.r FROM ranked WHERE s.id = ranked.id
                """
        )
        ranked = cur.rowcount
    log.info(
        "synced %d symbols (%d deactivated), volume day %s", len(tickers), deactivated, volume_day
    )
    return SyncResult(len(tickers), deactivated, ranked, volume_day.isoformat())


def top_symbols(conn: psycopg.Connection, n: int) -> list[str]:
    rows = conn.execute(
        "SELECT ticker FROM symbols WHERE active AND volume_rank IS NOT NULL "
        "ORDER BY volume_rank LIMIT %s",
        (n,),
    ).fetchall()
    return [row["ticker"] for row in rows]
