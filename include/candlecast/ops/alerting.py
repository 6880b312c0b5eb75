"""Alerts: always to the log; to Slack too when the Airflow connection `candlecast_slack`
holds an incoming-webhook URL (in its password field, so Airflow masks it)."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("candlecast.alerts")
SLACK_CONNECTION_ID = "candlecast_slack"


def slack_webhook_url() -> str | None:
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(SLACK_CONNECTION_ID).password or None
    except Exception:  # no Airflow, or no such connection: log only
        return None


def send_alert(title: str, lines: list[str], max_lines: int = 20) -> None:
    """One summary message; never raises (an alert must not fail the work it reports on)."""
    shown = lines[:max_lines] + (
        [f"… and {len(lines) - max_lines} more"] if len(lines) > max_lines else []
    )
    text = "\n".join([f":rotating_light: candlecast: {title}", *(f"• {line}" for line in shown)])
    log.warning("ALERT %s", text)
    post_to_slack(text)


def post_to_slack(text: str) -> bool:
    """The text as one Slack message when the connection is configured; never raises.
    Returns whether it was delivered."""
    url = slack_webhook_url()
    if not url:
        return False
    try:
        httpx.post(url, json={"text": text}, timeout=10).raise_for_status()
    except httpx.HTTPError as error:
        log.error("could not deliver the message to Slack: %s", type(error).__name__)
        return False
    return True


def task_failure_alert(context) -> None:
    """on_failure_callback for DAGs: one message per failed run, naming the failing task."""
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    send_alert(
        f"DAG {getattr(dag_run, 'dag_id', '?')} failed",
        [
            f"run {getattr(dag_run, 'run_id', '?')}",
            f"task {getattr(ti, 'task_id', '?')}: {context.get('exception') or 'see the task log'}",
        ],
    )
