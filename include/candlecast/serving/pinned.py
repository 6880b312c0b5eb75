"""A pinned Bento: the release artifact `candlecast bento build` makes. It carries each
timeframe's champion of the moment as a BentoML model of the Bento (bento.yaml's `models:`, the
`models/` folder of an exported or containerised Bento) and names them in labels
`candlecast-<timeframe>: <version>`. Served from it, a worker serves exactly those versions and
never follows a later promotion; served from source, it follows the champions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from candlecast.modeling import model_name
from candlecast.timeframes import TIMEFRAMES

BENTO_INFO = "bento.yaml"


@dataclass(frozen=True)
class PinnedRelease:
    bento: str  # the Bento's tag, name:version
    models: dict[str, str]  # timeframe code -> model tag


def pin_labels(champions: dict[str, str]) -> dict[str, str]:
    """The Bento's labels naming its versions, e.g. {"candlecast-1h": "20260101t020000123456"}."""
    return {tag.partition(":")[0]: tag.partition(":")[2] for tag in champions.values()}


def pinned_release(service_file: str | Path) -> PinnedRelease | None:
    """The release of the Bento `service_file` (bento/service.py) was built into, read from its
    bento.yaml (<bento>/bento.yaml beside <bento>/src/bento/service.py); None when served from
    source or from a Bento that carries no models (it follows the champions)."""
    source = Path(service_file).resolve()
    root = source.parents[2]
    info_path = root / BENTO_INFO
    if not (info_path.is_file() and source.is_relative_to(root / "src")):
        return None
    info = yaml.safe_load(info_path.read_text())
    packed = [str(m["tag"]) for m in info.get("models") or []]
    if not packed:
        return None
    bento = f"{info['name']}:{info['version']}"
    by_name = {tag.partition(":")[0]: tag for tag in packed}
    models, missing = {}, []
    for code, timeframe in TIMEFRAMES.items():
        tag = by_name.get(model_name(timeframe))
        if tag is None:
            missing.append(code)
        else:
            models[code] = tag
    if missing:
        raise LookupError(
            f"the Bento {bento} ({info_path}) carries no model for {', '.join(missing)}: "
            "rebuild it with `make bento`, which pins every timeframe's champion"
        )
    return PinnedRelease(bento, models)
