"""The model store's side of releases: a `stage` label on each version (for `bentoml models
list`; the `models` table is the truth) and the removal of pruned versions."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

STAGE_LABEL = "stage"


def _model_yaml(tag: str) -> Path | None:
    name, _, version = tag.partition(":")
    path = Path(os.environ.get("BENTOML_HOME", "")) / "models" / name / version / "model.yaml"
    return path if path.is_file() else None


def set_store_label(tag: str, stage: str) -> None:
    """The version's `stage` label in its model.yaml (written atomically); a version missing
    from this store (another machine's) is left alone."""
    import yaml

    from candlecast.ops import atomic_write

    path = _model_yaml(tag)
    if path is None:
        return
    info = yaml.safe_load(path.read_text())
    info.setdefault("labels", {})[STAGE_LABEL] = stage
    text = yaml.safe_dump(info, sort_keys=False).encode()
    atomic_write(path, lambda handle: handle.write(text))


def delete_from_store(tags: list[str]) -> None:
    """Remove versions from the model store at BENTOML_HOME (see registry.use_model_store)."""
    import bentoml
    from bentoml.exceptions import NotFound

    for tag in tags:
        try:
            bentoml.models.delete(tag)
        except NotFound:
            log.info("%s was already gone from the model store", tag)
