"""
### symbol_sync

Daily: every crypto ticker the market data provider lists is checked by the Great Expectations
`symbols` suite, then upserted into `symbols`; tickers the provider no longer lists are marked
inactive, and the active ones are ranked by the last full day's USD volume. The top-N universe
chosen is recorded for the run in `universe_runs`. Emits the `candlecast://symbols` Asset, which
schedules `ohlcv_update`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from candlecast.orchestration import SYMBOLS, dag_kwargs


@dag(schedule="@daily", **dag_kwargs(__doc__, owner="data-team", tags=["market-data"]))
def symbol_sync():
    @task(outlets=[SYMBOLS])
    def sync(run_id: str | None = None) -> dict:
        from candlecast.pipeline import run_symbol_sync
        from candlecast.settings import Settings

        return run_symbol_sync(Settings(), run_id)

    sync()


symbol_sync()
