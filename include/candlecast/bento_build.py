"""The release artifact: a Bento pinned to each timeframe's champion of the moment (`make bento`,
`candlecast bento build`). bentofile.yaml as written, plus `models:` (the champions, from the
`models` table) and a `candlecast-<timeframe>: <version>` label per model, built from a
generated bentofile in a temporary folder: nothing is written into the project."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from candlecast.modeling import releases, use_model_store
from candlecast.ops import db
from candlecast.serving import pin_labels
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAME_CODES

BENTOFILE = "bentofile.yaml"


def champions_to_pin(settings: Settings) -> dict[str, str]:
    """{timeframe code: champion tag} for every timeframe, each in the model store; a timeframe
    without one is named."""
    use_model_store(settings)
    import bentoml
    from bentoml.exceptions import NotFound

    with db.connect(settings) as conn:
        champions = releases.champion_tags(conn)
    missing = [code for code in TIMEFRAME_CODES if code not in champions]
    if missing:
        raise RuntimeError(
            f"no champion for {', '.join(missing)} in the models table: a pinned Bento carries "
            "one version per timeframe; train it (`candlecast train --timeframe "
            f"{missing[0]}`, or the train_models DAG) or promote a version "
            "(`candlecast models promote TAG`)"
        )
    for code in TIMEFRAME_CODES:
        try:
            bentoml.models.get(champions[code])
        except NotFound:
            raise RuntimeError(
                f"the {code} champion {champions[code]} is not in the model store at "
                f"{os.environ['BENTOML_HOME']}: import it (`bentoml models import`) or promote "
                "a version the store holds"
            ) from None
    return {code: champions[code] for code in TIMEFRAME_CODES}


def pinned_bentofile(project_dir: Path, champions: dict[str, str]) -> dict:
    config = yaml.safe_load((project_dir / BENTOFILE).read_text())
    config["models"] = [{"tag": tag} for tag in champions.values()]
    config["labels"] = {**(config.get("labels") or {}), **pin_labels(champions)}
    return config


def build_pinned_bento(settings: Settings, project_dir: Path) -> dict:
    """Build the Bento of `project_dir` carrying the champions; returns its tag, path and the
    versions it pins."""
    champions = champions_to_pin(settings)
    import bentoml

    with tempfile.TemporaryDirectory(prefix="candlecast-bento-") as folder:
        bentofile = Path(folder) / BENTOFILE
        bentofile.write_text(yaml.safe_dump(pinned_bentofile(project_dir, champions)))
        bento = bentoml.bentos.build_bentofile(str(bentofile), build_ctx=str(project_dir))
    return {"bento": str(bento.tag), "path": str(bento.path), "models": champions}
