"""
### release_models

Releases from the UI: trigger with params. `action` is `list` (every version with its stage and
gate, in the task's return value), `promote` (make `tag` its timeframe's champion; a failed gate
refuses unless `force`, which is recorded), `rollback` (`timeframe` back to its previous
champion) or `prune` (remove all but the newest `keep` challengers per timeframe from the model
store; champions and former champions stay). Every change writes a `model_releases` row with the
`reason` and this run as its actor, and running Bentos serve a new champion within seconds.
The same as `candlecast models list | promote TAG | rollback TIMEFRAME | prune --keep N`.
Never scheduled.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from candlecast.orchestration import dag_kwargs


@dag(
    schedule=None,
    params={
        "action": Param("list", enum=["list", "promote", "rollback", "prune"]),
        "timeframe": Param(
            None, type=["null", "string"], enum=[None, "1h", "4h", "1d", "1w", "1M"]
        ),
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
        from candlecast.pipeline import release_action
        from candlecast.settings import Settings

        return release_action(Settings(), actor=f"release_models:{run_id}", **dict(params))

    release()


release_models()
