"""
### quarantine_review

Review held candles from the UI: trigger with params. `action` is `list` (the held entries, in
the task's return value), `release` (write entry `entry_id`'s held candles through the normal
clean → merge → write) or `discard` (drop them for good; the files stay for the record). Both
actions update the entry's `data_quality` row and are idempotent; the same as
`candlecast quarantine list | release ID | discard ID`. Never scheduled.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from candlecast.orchestration import dag_kwargs


@dag(
    schedule=None,
    params={
        "action": Param("list", enum=["list", "release", "discard"]),
        "entry_id": Param(None, type=["null", "integer"], minimum=1),
    },
    **dag_kwargs(__doc__, owner="data-team", tags=["market-data"]),
)
def quarantine_review():
    @task
    def review(params=None) -> dict:
        from candlecast.pipeline import review_quarantine
        from candlecast.settings import Settings

        return review_quarantine(Settings(), params["action"], params.get("entry_id"))

    review()


quarantine_review()
