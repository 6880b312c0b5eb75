import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from candlecast.modeling.paper_trading import paper_trade
from candlecast.modeling.training import calibration_curve
from candlecast.modeling.training.report import html as report_module
from candlecast.modeling.training.report.html import (
    SECTIONS,
    ReportInput,
    format_value,
    write_report,
)

HOSTILE = "<script>alert('x')</script>&$\\frac$USD"  # $…$ would be math in matplotlib
IMAGE = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def horizon_figures(accuracy: float | None) -> dict:
    return {
        "model": {
            "n": 1200,
            "direction_accuracy": accuracy,
            "direction_accuracy_ci95": [0.49, 0.55],
            "mae_ratio_to_random_walk": 0.998,
            "mae_ratio_ci95": [0.99, 1.01],
            "rank_ic": float("nan"),
            "ece": 0.021,
        },
        "baselines": {
            "random_walk": {"direction_accuracy": None, "mae_ratio_to_random_walk": 1.0},
            "momentum": {"direction_accuracy": 0.497, "direction_accuracy_ci95": [0.47, 0.52]},
        },
    }


def paper_trading() -> dict:
    times = pd.date_range("2025-01-01", periods=40, freq="h", tz="UTC")
    close = np.linspace(100, 112, 40)
    candles = pd.DataFrame(
        {"timestamp": times, "open": close, "high": close * 1.01, "low": close * 0.99}
    ).assign(close=close, volume=1.0)
    signals = pd.DataFrame(
        {"timestamp": times[:3], "ticker": HOSTILE, "direction": "up", "confidence": 0.7}
    )
    return paper_trade(signals, {HOSTILE: candles}).as_dict()


def synthetic_input() -> ReportInput:
    rng = np.random.default_rng(3)
    history = pd.date_range("2025-01-01", periods=50, freq="h", tz="UTC")
    future = pd.date_range(history[-1], periods=31, freq="h", tz="UTC")[1:]
    path = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 30)))
    confidence = rng.uniform(0.5, 0.9, 500)
    return ReportInput(
        title="candlecast-1h:20261122t101500",
        timeframe="1h",
        summary={
            "training window": "2024-01-01 → 2025-01-01",
            "universe": {"size": 250, "hash": "ab12"},
            "algorithm served": "xgboost",
            "ensemble weights": {"xgboost": 0.6, "lstm": None},
        },
        folds=[
            {
                "name": "2024",
                "test_start": "2024-01-01",
                "test_end": "2024-12-31",
                "horizons": {"h1": horizon_figures(0.52), "all": horizon_figures(None)},
            }
        ],
        accuracy_by_horizon={
            "horizon": list(range(1, 31)),
            "model": list(rng.uniform(0.48, 0.55, 30)),
            "momentum": list(rng.uniform(0.48, 0.52, 30)),
        },
        rankers_by_horizon=_rankers(behind={29, 30}),
        calibration=calibration_curve(confidence, rng.uniform(size=500) < confidence),
        examples=[
            {
                "ticker": HOSTILE,
                "history_time": [t.isoformat() for t in history],
                "history_close": list(100 + rng.normal(0, 1, 50)),
                "forecast_time": [t.isoformat() for t in future],
                "forecast_close": list(path),
                "low_80": list(path * 0.97),
                "high_80": list(path * 1.03),
                "actual_close": list(path * 1.01)[:20],
            }
        ],
        feature_importance={f"feature_{i}": float(i) for i in range(29)} | {HOSTILE: 29.0},
        paper_trading=paper_trading(),
        notes=["does not beat the random walk at h1", "1 < 2 & 3 > 2"],
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report") / "nested" / "report.html"
    assert write_report(path, synthetic_input()) == path
    return path.read_text(encoding="utf-8")


def test_every_section_is_there(page):
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert "<h3>2024: 2024-01-01 → 2024-12-31</h3>" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched when opened


def test_figures_are_inline_decodable_pngs(page):
    images = IMAGE.findall(page)
    # model vs naive rankers, accuracy by horizon, calibration, examples, importance, equity
    assert len(images) == 6
    for encoded in images:
        picture = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        assert picture.format == "PNG" and picture.width > 100 and picture.height > 100


def test_text_is_escaped(page):
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;$\\frac$USD" in page
    assert "1 &lt; 2 &amp; 3 &gt; 2" in page


def test_missing_figures_read_n_a_and_intervals_join_their_metric(page):
    assert '<tr><th>lstm</th><td><span class="na">n/a</span></td></tr>' in page
    assert "direction_accuracy (95 % CI)" in page and "mae_ratio_to_random_walk (95 % CI)" in page
    assert "<td>0.52 [0.49, 0.55]</td>" in page  # the model's h1 accuracy with its interval
    assert "<td>n/a [0.49, 0.55]</td>" in page  # None beside a known interval
    assert "<td>0.998 [0.99, 1.01]</td>" in page
    assert "<td>1</td><td>" in page  # the random walk's ratio to itself, no interval
    assert "rank_ic" in page and "nan" not in IMAGE.sub("", page).lower()


def test_fold_figures_as_evaluation_returns_them(tmp_path):
    """The model's metrics holding their baselines; per-horizon series left to the plot."""
    nested = horizon_figures(0.61)
    group = nested["model"] | {"baselines": nested["baselines"]}
    by_horizon = {"horizon": list(range(1, 31)), "model": [0.5] * 30}
    fold = {"name": "2025", "horizons": {"h6": group, "by_horizon": by_horizon}}
    page = write_report(tmp_path / "r.html", ReportInput("t", "1d", {}, folds=[fold])).read_text()
    table = page[page.index("<h3>2025") : page.index("</table>")]
    assert table.count("<tr") == 4  # header, model, random_walk, momentum
    assert '<tr class="model"><td>h6</td><td>model</td><td>1200</td><td>0.61 [0.49, 0.55]' in table
    assert "by_horizon" not in table and "<th>baselines" not in table


def test_paper_trading_table_sits_beside_buy_and_hold(page):
    section = page[page.index("<h2>Paper trading</h2>") :]
    assert "<th>strategy</th><th>buy-and-hold</th>" in section
    assert "net P&amp;L after fees ($)" in section and "long only (spot)" in section


def test_a_failed_render_leaves_the_earlier_report_intact(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("the earlier report", encoding="utf-8")

    def broken(*args, **kwargs):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(report_module, "plot_calibration", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(path, synthetic_input())
    assert path.read_text(encoding="utf-8") == "the earlier report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left


def test_an_empty_report_renders_every_section_as_n_a(tmp_path):
    page = write_report(tmp_path / "r.html", ReportInput("t", "1M", {})).read_text()
    assert page.count('<p class="na">n/a') == len(SECTIONS)
    assert "<img" not in page


def test_calibration_curve_bins_and_ece():
    curve = calibration_curve([0.55, 0.55, 0.95, 0.95, 1.0], [1, 0, 1, 1, 0], bins=10)
    assert curve["count"] == [2, 3]
    assert curve["confidence"] == pytest.approx([0.55, (0.95 + 0.95 + 1.0) / 3])
    assert curve["observed"] == pytest.approx([0.5, 2 / 3])
    expected = 2 / 5 * 0.05 + 3 / 5 * abs((0.95 + 0.95 + 1.0) / 3 - 2 / 3)
    assert curve["ece"] == pytest.approx(expected)


def test_calibration_curve_refuses_bad_input():
    with pytest.raises(ValueError, match="one length"):
        calibration_curve([0.6, 0.7], [1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        calibration_curve([1.2], [1])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        (float("nan"), "n/a"),
        (np.float64("inf"), "n/a"),
        (0.123456, "0.1235"),
        (np.int64(250), "250"),
        ([0.5, None], "[0.5, n/a]"),
        (True, "yes"),
        (list(range(20)), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … (20 in all)]"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def _rankers(behind: set[int]) -> dict:
    horizons = list(range(1, 31))
    return {
        "horizon": horizons,
        "signal": ["ensemble"] * 6 + ["naive_ret_1"] * 24,
        "validation_ic": [0.08 / h for h in horizons],
        "validation_naive_ic": [0.07 / h for h in horizons],
        "validation_naive": ["reversal 1"] * 30,
        "relative_skill": [h <= 3 for h in horizons],
        "test_horizon": horizons,
        "test_ic": [0.05 / h - (0.01 if h in behind else 0.0) for h in horizons],
        "test_naive_ic": [0.05 / h for h in horizons],
        "test_naive": ["reversal 1"] * 30,
    }


def _evidence(validated: set[int], relative: set[int] = frozenset()) -> list[dict]:
    return [
        {
            "horizon": h,
            "skill": "validated" if h in validated else "none",
            "relative_skill": "validated" if h in validated | relative else "none",
            "test_below_zero": h == 5 and h in relative,
            "rank_ic": 0.06 / h,
            "rank_ic_low": 0.03 / h if h in validated else -0.01,
            "rank_ic_high": 0.09 / h,
            "direction_accuracy": 0.53 if h in validated else 0.5,
            "best_naive_rule": "reversal",
            "best_naive_accuracy": 0.51,
            "n": 1000,
        }
        for h in range(1, 31)
    ]


def _section(page: str, k: int) -> str:
    start = 0
    for _ in range(k + 1):
        start = page.index("<section>", start + 1)
    return page[start : page.index("</section>", start)]


def test_the_report_leads_with_the_model_against_the_best_naive_ranker(tmp_path):
    report = synthetic_input()
    page = write_report(tmp_path / "r.html", report).read_text()
    first = _section(page, 0)
    assert SECTIONS[0] == "Model against the best naive ranker"
    assert f"<h2>{SECTIONS[0]}</h2>" in first and len(IMAGE.findall(first)) == 1
    assert "at 28 of 30 horizons; behind it at [29, 30]." in first
    assert "Naive rankers served: naive_ret_1." in first


def test_the_verdict_per_horizon_follows_with_both_claims(tmp_path):
    report = synthetic_input()
    report.skill = _evidence({1, 2, 3}, relative={4, 5})
    page = write_report(tmp_path / "r.html", report).read_text()
    verdict = _section(page, 1)
    assert f"<h2>{SECTIONS[1]}</h2>" in verdict and SECTIONS[1] == "Verdict by horizon"
    assert "Relative skill (the ranking) at 5 of 30 horizons: [1, 2, 3, 4, 5]" in verdict
    assert "Direction skill (the side) at 3: [1, 2, 3]" in verdict
    assert "WARNING: claimed, yet below 0 on the test window at [5]" in verdict
    assert len(IMAGE.findall(verdict)) == 1  # the plot comes before the table
    assert verdict.index("<img") < verdict.index("<table>")
    assert verdict.count('<tr class="model">') == 5
    report.skill = _evidence(set())
    page = write_report(tmp_path / "r.html", report).read_text()
    assert "No skill at any horizon" in page
