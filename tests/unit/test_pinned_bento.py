"""A pinned Bento: the bentofile its build generates (the project's, plus the champions as
`models:` and labels), and the versions a service file inside a Bento reads from its bento.yaml;
a worker serving them never follows a promotion."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from candlecast.bento_build import BENTOFILE, pinned_bentofile
from candlecast.serving import Forecaster, follow_champions, pin_labels, pinned_release

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHAMPIONS = {
    "1h": "candlecast-1h:20260101t010000000001",
    "4h": "candlecast-4h:20260101t010000000002",
    "1d": "candlecast-1d:20260101t010000000003",
    "1w": "candlecast-1w:20260101t010000000004",
    "1M": "candlecast-1mo:20260101t010000000005",
}


def _bento(root: Path, models: list[str]) -> Path:
    """A Bento folder as BentoML lays one out: bento.yaml beside src/, the service under src/."""
    service = root / "src" / "bento" / "service.py"
    service.parent.mkdir(parents=True)
    service.write_text("")
    info = {"name": "candlecast", "version": "abc123", "models": [{"tag": t} for t in models]}
    (root / "bento.yaml").write_text(yaml.safe_dump(info))
    return service


def test_the_generated_bentofile_pins_every_champion_and_keeps_the_project_file():
    before = (PROJECT_DIR / BENTOFILE).read_text()
    config = pinned_bentofile(PROJECT_DIR, CHAMPIONS)
    assert [m["tag"] for m in config["models"]] == list(CHAMPIONS.values())
    assert config["labels"]["candlecast-1mo"] == "20260101t010000000005"
    assert config["labels"]["owner"] == "ml-team"  # the project's labels stay
    assert config["include"] == yaml.safe_load(before)["include"]
    assert (PROJECT_DIR / BENTOFILE).read_text() == before


def test_pin_labels_name_each_model_by_its_version():
    assert pin_labels({"1h": "candlecast-1h:v1"}) == {"candlecast-1h": "v1"}


def test_a_service_inside_a_bento_serves_the_versions_it_carries(tmp_path):
    service = _bento(tmp_path / "bento", list(CHAMPIONS.values()))
    release = pinned_release(service)
    assert release is not None
    assert (release.bento, release.models) == ("candlecast:abc123", CHAMPIONS)


def test_served_from_source_or_an_unpinned_bento_nothing_is_pinned(tmp_path):
    assert pinned_release(PROJECT_DIR / "bento" / "service.py") is None
    assert pinned_release(_bento(tmp_path / "old", [])) is None


def test_a_bento_missing_a_timeframe_is_refused_naming_it(tmp_path):
    partial = [t for code, t in CHAMPIONS.items() if code != "1w"]
    with pytest.raises(LookupError, match=r"no model for 1w"):
        pinned_release(_bento(tmp_path / "partial", partial))


def test_a_worker_serving_a_pinned_bento_does_not_follow_the_champions():
    pinned = Forecaster({}, None, None, None, pinned_bento="candlecast:abc123")
    reading = follow_champions(pinned, poll_seconds=1)
    assert reading.pinned and not reading.following
    reading.stop()
    watcher = follow_champions(Forecaster({}, None, None, None), poll_seconds=1)
    assert watcher.following
    watcher.stop()


def test_a_timeframe_no_version_was_trained_for_is_answered_503_naming_it():
    from candlecast.api import Unavailable
    from candlecast.timeframes import TIMEFRAMES

    forecaster = Forecaster({}, None, None, None)
    with pytest.raises(Unavailable, match="no 1w model is served: no 1w version has been trained"):
        forecaster.served(TIMEFRAMES["1w"])
