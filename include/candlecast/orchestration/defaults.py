"""Defaults every candlecast DAG shares. Parse-time cheap: imports nothing beyond Airflow."""

from __future__ import annotations

import pendulum
from airflow.sdk import BaseNotifier

START_DATE = pendulum.datetime(2025, 1, 1, tz="UTC")


def default_args(owner: str) -> dict:
    return {
        "owner": owner,
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=1),
        "retry_exponential_backoff": True,
    }


class FailureNotifier(BaseNotifier):
    """One alert per failed DAG run (log, and Slack when `candlecast_slack` is configured)."""

    template_fields = ()

    def render_template_fields(self, context, jinja_env=None) -> None:
        """Nothing to render; and a DAG-level callback gets a serialized DAG, which has no
        template environment to render with."""

    def notify(self, context) -> None:
        from candlecast.ops.alerting import task_failure_alert

        task_failure_alert(context)


def dag_kwargs(doc_md: str, owner: str, tags: list[str]) -> dict:
    return {
        "on_failure_callback": FailureNotifier(),
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "doc_md": doc_md,
        "tags": ["candlecast", *tags],
        "default_args": default_args(owner),
    }
