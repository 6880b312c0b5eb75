"""What the DAG files share: the DAG defaults with the failure notifier (`defaults`) and the
Assets (`assets`).

Imported at DAG parse time, so it imports Airflow and nothing heavy (an import contract says so):
the notifier imports `candlecast.ops.alerting` only when a run fails. Only the DAG files import
this package.
"""

from candlecast.orchestration.assets import OHLCV, SYMBOLS
from candlecast.orchestration.defaults import START_DATE, FailureNotifier, dag_kwargs, default_args

__all__ = [
    "OHLCV",
    "START_DATE",
    "SYMBOLS",
    "FailureNotifier",
    "dag_kwargs",
    "default_args",
]
