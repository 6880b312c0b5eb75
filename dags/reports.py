"""
### reports

At the report hours (`CANDLECAST_REPORT_HOURS`, UTC, default 07:00 and 19:00): the daily report
of the 24 hours to now, and on Sunday at the last report hour the weekly one of the 7 days to
now. Forecasts served and scored, accuracy and MAE against the random walk by timeframe, version
and horizon (beside each version's test window), calibration, best and worst coins, drift
alerts, the paper ledger's P&L, each challenger's live gate. The text goes to Slack (connection
`candlecast_slack`) once per report, marked sent only when the webhook accepted it (a failed
post is retried by the next run, once); it and one PNG (daily: accuracy by horizon; weekly: the
ledger's equity) are saved under `$CANDLECAST_HOME/reports/`. `candlecast report daily|weekly
[--date D]` prints the same text.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from candlecast.orchestration import dag_kwargs
from candlecast.settings import report_hours

HOURS = report_hours()


@dag(
    schedule=CronTriggerTimetable(f"0 {HOURS} * * *", timezone="UTC"),
    **dag_kwargs(__doc__, owner="data-team", tags=["monitoring"]),
)
def reports():
    @task
    def send() -> dict:
        from candlecast.pipeline import run_due_reports
        from candlecast.settings import Settings

        return run_due_reports(Settings())

    send()


reports()
