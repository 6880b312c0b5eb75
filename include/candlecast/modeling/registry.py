"""The model registry: versions in the BentoML model store, one `models` row per version."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psycopg

from candlecast.modeling import releases
from candlecast.modeling.predictor import ForecastModel
from candlecast.settings import Settings
from candlecast.timeframes import Timeframe, parse_timeframe

log = logging.getLogger(__name__)
MODEL_PREFIX = "candlecast"


def model_name(timeframe: Timeframe) -> str:
    """BentoML lowercases tags, so 1M is stored as candlecast-1mo (never read as a minute)."""
    return f"{MODEL_PREFIX}-{timeframe.slug}"


def json_safe(value, missing=None):
    """Metrics as strict JSON: NaN and infinities (no data to measure) become `missing`."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalars
        value = value.item()
    if isinstance(value, dict):
        return {str(k): json_safe(v, missing) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, missing) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else missing
    return missing if value is None else value


def use_model_store(settings: Settings) -> None:
    """Point BentoML at the project's store; must run before bentoml is imported."""
    os.environ.setdefault("BENTOML_HOME", str(settings.bentoml_home))
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    Path(os.environ["BENTOML_HOME"]).mkdir(parents=True, exist_ok=True)


REPORT_FILE = "report.html"


def save_model(
    settings: Settings,
    conn: psycopg.Connection,
    model: ForecastModel,
    write_report: Callable[[Path, str], None] | None = None,
    actor: str = "train",
) -> str:
    """Store a trained version (and its report, written into the version's folder) and record
    it as its timeframe's challenger (its champion when it has none); returns the BentoML tag."""
    use_model_store(settings)
    import bentoml

    timeframe = parse_timeframe(model.timeframe)
    trained_at = pd.Timestamp.now(tz="UTC")
    version = trained_at.strftime("%Y%m%dt%H%M%S%f")
    metadata = {
        "timeframe": timeframe.code,
        "feature_set_version": model.feature_set_version,
        "trained_at": trained_at.isoformat(),
        **{k: v for k, v in model.info.items() if k != "metrics"},
        "metrics": json_safe(model.info.get("metrics", {})),
        "report": REPORT_FILE if write_report is not None else "none",
    }
    with bentoml.models.create(
        f"{model_name(timeframe)}:{version}",
        labels={releases.STAGE_LABEL: "challenger", "timeframe": timeframe.slug},
        metadata=json_safe(metadata, missing="n/a"),  # BentoML metadata takes no None
    ) as stored:
        model.save(Path(stored.path))
        if write_report is not None:
            write_report(Path(stored.path) / REPORT_FILE, f"{model_name(timeframe)}:{version}")
    tag = f"{model_name(timeframe)}:{version}"
    report_path = Path(bentoml.models.get(tag).path) / REPORT_FILE
    with conn.transaction():
        row = _insert_row(conn, model, timeframe, version, trained_at, report_path)
        stage = releases.register(conn, row["id"], timeframe.code, actor) if row else "challenger"
    releases.set_store_label(tag, stage)
    return tag


def _insert_row(
    conn: psycopg.Connection,
    model: ForecastModel,
    timeframe: Timeframe,
    version: str,
    trained_at: pd.Timestamp,
    report_path: Path,
) -> dict | None:
    """The version's `models` row (None when it exists already)."""
    metrics = json_safe(model.info.get("metrics", {}))
    return conn.execute(
        """
        INSERT INTO models (name, version, timeframe, algorithm, feature_set_version,
                            trained_at, train_start, train_end, n_symbols, n_train_rows, metrics,
                            baseline_metrics, universe_size, universe_hash, report_path,
                            data_end)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (name, version) DO NOTHING
        RETURNING id
        """,
        (
            model_name(timeframe),
            version,
            timeframe.code,
            model.info.get("algorithm", ""),
            model.feature_set_version,
            trained_at,
            model.info.get("train_start"),
            model.info.get("train_end"),
            model.info.get("n_symbols", 0),
            model.info.get("n_train_rows", 0),
            json.dumps(metrics),
            json.dumps(baseline_metrics(metrics)),
            model.info.get("universe_size", 0),
            model.info.get("universe_hash", ""),
            str(report_path) if report_path.exists() else "",
            model.info.get("data_end"),
        ),
    ).fetchone()


def baseline_metrics(metrics: dict) -> dict:
    """The baselines' figures of the served fold's test window, per horizon group."""
    test = metrics.get("test", {})
    return {
        group: figures.get("baselines", {})
        for group, figures in test.items()
        if isinstance(figures, dict) and "baselines" in figures
    }


class NoChampion(LookupError):
    """A timeframe no version has been trained for (or none promoted)."""


def serving_reference(settings: Settings, timeframe: Timeframe, conn=None):
    """The version to serve, as a BentoML model reference: the timeframe's champion in the
    `models` table, or, when PostgreSQL cannot say, the newest version the model store labels
    champion. Never simply the newest version."""
    use_model_store(settings)
    import bentoml
    from bentoml.exceptions import NotFound

    name = model_name(timeframe)
    try:
        stored = bentoml.models.list(name)
    except NotFound:
        stored = []
    tag = _champion_in_database(settings, timeframe, conn) if stored else None
    if tag is None:
        labelled = [m for m in stored if m.info.labels.get(releases.STAGE_LABEL) == "champion"]
        labelled.sort(key=lambda m: m.info.creation_time)
        tag = str(labelled[-1].tag) if labelled else None
    if tag is None:
        raise NoChampion(
            f"no {name} model serves as champion: none in the models table, none labelled so "
            f"in the model store at {os.environ['BENTOML_HOME']}; run the train_models DAG "
            "first (make up does)"
        )
    try:
        return bentoml.models.BentoModel(bentoml.models.get(tag).tag)
    except NotFound as error:
        raise LookupError(
            f"the {timeframe.code} champion {tag} is not in the model store"
        ) from error


def pinned_reference(settings: Settings, tag: str):
    """A version a pinned Bento carries, as a BentoML model reference (from the Bento's own
    model store when it has one, as in a container; otherwise from BENTOML_HOME's)."""
    use_model_store(settings)
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        return bentoml.models.BentoModel(bentoml.models.get(tag).tag)
    except NotFound as error:
        raise LookupError(
            f"the Bento pins {tag}, which is neither in the Bento nor in the model store at "
            f"{os.environ['BENTOML_HOME']}: import the exported Bento (`bentoml import`), "
            "which brings its models"
        ) from error


def _champion_in_database(settings: Settings, timeframe: Timeframe, conn) -> str | None:
    from candlecast.ops import db

    try:
        if conn is not None:
            row = releases.champion_row(conn, timeframe)
        else:
            with db.connect(settings) as own:
                row = releases.champion_row(own, timeframe)
    except psycopg.Error as error:
        log.warning("champion of %s read from the model store's labels: %s", timeframe.code, error)
        return None
    return None if row is None else f"{row['name']}:{row['version']}"


def load_model(reference) -> ForecastModel:
    stored = reference.stored
    if stored is None:
        raise LookupError(f"model {reference.tag} is not in the model store")
    return ForecastModel.load(Path(stored.path))


def load_version(tag: str) -> ForecastModel:
    """A version of the model store at BENTOML_HOME by its tag."""
    import bentoml

    return ForecastModel.load(Path(bentoml.models.get(tag).path))


def model_row_id(conn: psycopg.Connection, tag: str) -> int | None:
    name, _, version = tag.partition(":")
    row = conn.execute(
        "SELECT id FROM models WHERE name = %s AND version = %s", (name, version)
    ).fetchone()
    return None if row is None else row["id"]


def version_report_path(conn: psycopg.Connection, tag: str) -> str | None:
    """Where the version's HTML report was written (None for an unknown version)."""
    row = conn.execute(
        "SELECT report_path FROM models WHERE name || ':' || version = %s", (tag,)
    ).fetchone()
    return row["report_path"] if row else None
