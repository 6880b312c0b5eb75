"""What the DAG files share.

    `defaults`  the DAG defaults with the failure notifier
    `assets`    the Assets the DAGs produce and consume

Imported at DAG parse time, so it imports Airflow and nothing heavy (an import contract says so):
the notifier imports `candlecast.ops.alerting` only when a run fails. Only the DAG files import
this package.
"""

from candlecast.orchestration.assets import OHLCV, SYMBOLS
from candlecast.orchestration.defaults import dag_kwargs
from candlecast.timeframe_codes import TIMEFRAME_CODES

__all__ = [
    "OHLCV",
    "SYMBOLS",
    "TIMEFRAME_CODES",
    "dag_kwargs",
]
