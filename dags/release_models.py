"""
### release_models

Releases from the UI: trigger with params. `action` is `list` (every version with its stage and
gate, and each challenger's live comparison with the champion — paired shadow outcomes n, the
differences of direction accuracy and rank IC with their intervals, the verdict and when it
will be decided — in the task's return value and its log), `decide` (run the live gate now:
`score_outcomes` runs it after every pass), `promote` (make `tag` its timeframe's champion; a failed gate
refuses unless `force`, which is recorded), `rollback` (`timeframe` back to its previous
champion) or `prune` (remove all but the newest `keep` challengers per timeframe from the model
store; champions and former champions stay). Every change writes a `model_releases` row with the
`reason` and this run as its actor, and running Bentos serve a new champion within seconds.
The same as `candlecast models list | promote TAG | rollback TIMEFRAME | prune --keep N |
decide`.
Never scheduled.
"""

from __future__ import annotations

import logging

from airflow.sdk import Param, dag, task

from candlecast.orchestration import TIMEFRAME_CODES, dag_kwargs

log = logging.getLogger(__name__)


@dag(
    schedule=None,
    params={
        "action": Param("list", enum=["list", "promote", "rollback", "prune", "decide"]),
        "timeframe": Param(None, type=["null", "string"], enum=[None, *TIMEFRAME_CODES]),
        "tag": Param(None, type=["null", "string"], description="for promote"),
        "reason": Param("", type="string"),
        "force": Param(False, type="boolean", description="promote past a failed gate"),
        "keep": Param(3, type="integer", minimum=0, description="for prune"),
    },
    **dag_kwargs(__doc__, owner="ml-team", tags=["models"]),
)
def release_models():
    @task
    def release(params=None, run_id=None) -> dict:
        from candlecast.releasing import release_action
        from candlecast.settings import Settings

        result = release_action(Settings(), actor=f"release_models:{run_id}", **dict(params))
        for tag, line in result.get("live", {}).items():
            log.info("%s: %s", tag, line)  # the task log: each challenger's live comparison
        return result

    release()


release_models()
