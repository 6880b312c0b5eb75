"""The Great Expectations project: its data source, suites and validation definitions (in a
file project that keeps results, or in memory), the lock parallel workers share it under, one
suite run on a frame, and the results rendered as Data Docs."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pandas as pd

from candlecast.ohlcv.validation.suites import (
    OHLCV_SUITE,
    SYMBOLS_SUITE,
    ohlcv_expectations,
    quiet_gx,
    symbols_expectations,
)

MAX_RESULTS_KEPT = 200


@contextmanager
def _project_lock(project_dir: Path | None, exclusive: bool) -> Iterator[None]:
    """Parallel tasks (Airflow's workers) share one file project: setting it up rewrites its
    suite and validation definition files while another process may be reading them (seen on
    two Celery workers: a half-written definition read as None). Set-up and docs take the lock
    exclusively, validation runs share it."""
    if project_dir is None:
        yield
        return
    project_dir.mkdir(parents=True, exist_ok=True)
    with open(project_dir / ".candlecast-gx.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


@cache
def _validators(project_dir: Path | None):
    """Batch definitions and suites, in a file project (kept results) or in memory."""
    quiet_gx()
    import great_expectations as gx

    if project_dir is None:
        return _define(gx.get_context(mode="ephemeral"))
    with _project_lock(project_dir, exclusive=True):
        return _define(gx.get_context(mode="file", project_root_dir=str(project_dir)))


def _define(context):
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    try:
        source = context.data_sources.get("candlecast")
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas("candlecast")
    validators = {}
    for name, expectations in (
        (OHLCV_SUITE, ohlcv_expectations()),
        (SYMBOLS_SUITE, symbols_expectations()),
    ):
        try:
            asset = source.get_asset(name)
        except LookupError:
            asset = source.add_dataframe_asset(name)
        try:
            definition = asset.get_batch_definition("whole")
        except (KeyError, ValueError, LookupError):
            definition = asset.add_batch_definition_whole_dataframe("whole")
        suite = _stored_suite(context, name, expectations)
        validators[name] = _stored_validation(context, name, definition, suite)
    return context, validators


def _rules(expectations) -> list[tuple]:
    return [(e.expectation_type, e.configuration.kwargs) for e in expectations]


def _stored_suite(context, name: str, expectations: list):
    """The stored suite when it holds these expectations, else these saved: rewriting an
    unchanged suite would make every other process's copy stale (GX refuses to run those)."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        stored = context.suites.get(name)
    except DataContextError:
        stored = None
    if stored is not None and _rules(stored.expectations) == _rules(expectations):
        return stored
    return context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))


def _stored_validation(context, name: str, definition, suite):
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        stored = context.validation_definitions.get(name)
    except DataContextError:
        stored = None
    if stored is not None and stored.suite.id == suite.id and stored.data.id == definition.id:
        return stored
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=definition, suite=suite)
    )


def run_suite(suite: str, frame: pd.DataFrame, project_dir: Path | None):
    _, validators = _validators(project_dir)  # before the shared lock: set-up takes it alone
    with _project_lock(project_dir, exclusive=False):
        return validators[suite].run(
            batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
        )


def build_docs(project_dir: Path) -> Path:
    """Render kept results as HTML (pruning the oldest) and return the index page."""
    context, _ = _validators(project_dir)
    with _project_lock(project_dir, exclusive=True):
        return _build_docs(context, project_dir)


def _build_docs(context, project_dir: Path) -> Path:
    results = sorted(
        (project_dir / "gx" / "uncommitted" / "validations").rglob("*.json"),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in results[:-MAX_RESULTS_KEPT]:
        stale.unlink(missing_ok=True)
    context.build_data_docs()
    return project_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
