"""The HTML report of one model version: one self-contained page (inline CSS, the figures of
plots.py as base64 PNG), readable offline, written atomically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from candlecast.modeling.training.report.cells import (
    MISSING,
    Joined,
    cell,
    format_value,
    grid,
    na,
    text,
)
from candlecast.modeling.training.report.plots import (
    MAX_EXAMPLES,
    plot_accuracy,
    plot_calibration,
    plot_equity,
    plot_examples,
    plot_importance,
)
from candlecast.modeling.training.report.verdict import rankers_html, verdict_html
from candlecast.ops import atomic_write

SECTIONS = (
    "Model against the best naive ranker",
    "Verdict by horizon",
    "Summary",
    "Walk-forward test windows",
    "Direction accuracy by horizon",
    "Calibration",
    "Forecasts against what happened",
    "Feature importance",
    "Paper trading",
    "Notes",
)
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:right;vertical-align:top}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
tr.model td{font-weight:600;background:#f7fbff}table table{margin:0}.na{color:#888}
img{max-width:100%;height:auto}.caption{color:#555}
"""


@dataclass
class ReportInput:
    title: str  # e.g. "candlecast-1h:20261122t101500"
    timeframe: str
    summary: dict  # key → value, nested dicts allowed
    skill: list[dict] = field(default_factory=list)  # Calibration.skill_table(), horizon 1 first
    folds: list[dict] = field(default_factory=list)  # name, test_start, test_end, horizons
    accuracy_by_horizon: dict = field(default_factory=dict)  # horizon: [...], model: [...], ...
    rankers_by_horizon: dict = field(default_factory=dict)  # served vs best naive ranker IC
    calibration: dict = field(default_factory=dict)  # as calibration_curve returns it
    examples: list[dict] = field(default_factory=list)  # ticker, history_*, forecast_*, ...
    feature_importance: dict = field(default_factory=dict)  # feature → importance
    paper_trading: dict | None = None  # PaperTradeResult.as_dict()
    notes: list[str] = field(default_factory=list)


def write_report(path: Path, report: ReportInput) -> Path:
    """Render the whole page first, then replace `path` atomically: a failure leaves any
    earlier report at `path` as it was."""
    page = render_report(report)
    return atomic_write(path, lambda handle: handle.write(page.encode("utf-8")))


def render_report(report: ReportInput) -> str:
    parts = [
        rankers_html(report.rankers_by_horizon),
        verdict_html(report.skill),
        _table_of(report.summary),
        _folds_html(report.folds),
        _figure_orna(report.accuracy_by_horizon, plot_accuracy),
        _calibration_html(report.calibration),
        _examples_html(report.examples),
        _figure_orna(report.feature_importance, plot_importance),
        _paper_trading_html(report.paper_trading),
        _notes_html(report.notes),
    ]
    sections = [_section(title, body) for title, body in zip(SECTIONS, parts, strict=True)]
    title = text(report.title)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>\n<h1>{title}</h1>\n"
        f"<p class='caption'>timeframe {text(report.timeframe)}</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


# text and tables


def _table_of(mapping: dict) -> str:
    """Key/value rows; a nested dict becomes a nested table."""
    if not mapping:
        return na("nothing recorded")
    rows = "".join(
        f"<tr><th>{text(key)}</th><td>"
        + (_table_of(value) if isinstance(value, dict) else cell(value))
        + "</td></tr>"
        for key, value in mapping.items()
    )
    return f"<table>{rows}</table>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{text(title)}</h2>\n{body}\n</section>"


def _notes_html(notes: list[str]) -> str:
    if not notes:
        return na("no notes")
    return "<ul>" + "".join(f"<li>{text(note)}</li>" for note in notes) + "</ul>"


# walk-forward folds


def _metric_columns(rows: list[dict]) -> list[tuple[str, str | None]]:
    """(metric, its *_ci95 key or None) in first-seen order; an interval joins the metric it
    names (`x_ci95` → `x`, else the one metric starting with `x`), or stands alone."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    intervals = [k for k in keys if k.endswith("_ci95")]
    values = [k for k in keys if not k.endswith("_ci95")]
    paired: dict[str, str] = {}
    for interval in intervals:
        stem = interval.removesuffix("_ci95")
        matches = [stem] if stem in values else [k for k in values if k.startswith(stem)]
        if len(matches) == 1 and matches[0] not in paired:
            paired[matches[0]] = interval
    alone = [(k, None) for k in intervals if k not in paired.values()]
    return [(k, paired.get(k)) for k in values] + alone


def _predictors(figures: dict) -> tuple[dict, dict]:
    """(model metrics, baseline → metrics) of one horizon group, given as {"model", "baselines"}
    or as the model's metrics holding its "baselines"."""
    model = figures.get("model", figures)
    baselines = figures.get("baselines", model.get("baselines")) or {}
    return {k: v for k, v in model.items() if k != "baselines"}, baselines


def _is_group(figures) -> bool:
    """A horizon group has metrics; per-horizon series (lists of 30) are plotted, not tabled."""
    return isinstance(figures, dict) and any(
        not isinstance(value, list) or len(value) == 2 for value in figures.values()
    )


def _fold_table(horizons: dict) -> str:
    labelled = []
    for horizon, figures in horizons.items():
        if not _is_group(figures):
            continue
        model, baselines = _predictors(figures)
        labelled.append((horizon, "model", model))
        labelled += [(horizon, name, metrics or {}) for name, metrics in baselines.items()]
    if not labelled:
        return na("no figures")
    columns = _metric_columns([metrics for _, _, metrics in labelled])
    header = ["horizon", "predictor"] + [
        key + (" (95 % CI)" if interval else "") for key, interval in columns
    ]
    rows = [
        [horizon, who]
        + [
            Joined(metrics.get(key), metrics.get(interval)) if interval else metrics.get(key)
            for key, interval in columns
        ]
        for horizon, who, metrics in labelled
    ]
    classes = ["model" if who == "model" else "" for _, who, _ in labelled]
    return grid(header, rows, classes)


def _folds_html(folds: list[dict]) -> str:
    if not folds:
        return na("no walk-forward test window")
    parts = []
    for fold in folds:
        heading = (
            f"{fold.get('name', 'test window')}: "
            f"{format_value(fold.get('test_start'))} → {format_value(fold.get('test_end'))}"
        )
        parts.append(f"<h3>{text(heading)}</h3>\n{_fold_table(fold.get('horizons') or {})}")
    return "\n".join(parts)


# figures


def _figure_orna(data, plot: Callable[[object], str]) -> str:
    return plot(data) if data else na("no data")


def _calibration_html(calibration: dict) -> str:
    if not calibration or not calibration.get("confidence"):
        return na("no data")
    caption = f"expected calibration error: {format_value(calibration.get('ece'))}"
    return plot_calibration(calibration) + f'<p class="caption">{text(caption)}</p>'


def _examples_html(examples: list[dict]) -> str:
    if not examples:
        return na("no data")
    shown = ", ".join(str(example.get("ticker", "?")) for example in examples[:MAX_EXAMPLES])
    caption = f"history, forecast path, its 80 % band and the actual closes: {shown}"
    return plot_examples(examples) + f'<p class="caption">{text(caption)}</p>'


def _paper_trading_html(result: dict | None) -> str:
    if not result:
        return na("no paper-trading run")
    hold = result.get("buy_and_hold") or {}
    side_by_side = grid(
        ["", "strategy", "buy-and-hold"],
        [
            [label, _Formatted(result.get(key), kind), _Formatted(hold.get(key), kind)]
            for label, key, kind in (
                ("net P&L after fees ($)", "net_pnl", "money"),
                ("total return on capital", "total_return", "percent"),
                ("max drawdown ($)", "max_drawdown", "money"),
                ("max drawdown (of capital)", "max_drawdown_fraction", "percent"),
            )
        ],
    )
    strategy = _table_of(
        {
            "trades": result.get("n_trades"),
            "win rate": _Formatted(result.get("win_rate"), "percent"),
            "profit factor": result.get("profit_factor"),
            "fees paid ($)": _Formatted(result.get("fees_paid"), "money"),
            "exposure (time with a position)": _Formatted(result.get("exposure"), "percent"),
            "signals / eligible": f"{result.get('n_signals')} / {result.get('n_eligible_signals')}",
            "long only (spot)": result.get("long_only"),
        }
    )
    parts = [side_by_side, strategy, "<h3>Rules</h3>", _table_of(result.get("rules") or {})]
    trades = result.get("trades") or {}
    if trades:
        parts += ["<h3>Trades</h3>", _table_of(trades)]
    curve = result.get("equity_curve") or {}
    parts.append(plot_equity(curve) if curve.get("timestamp") else na("no equity curve"))
    return "\n".join(parts)


@dataclass(frozen=True)
class _Formatted:
    value: object
    kind: str  # "money" or "percent"

    def __str__(self) -> str:
        if format_value(self.value) == MISSING:
            return MISSING
        if self.kind == "percent":
            return f"{100 * float(self.value):.2f} %"
        return f"{float(self.value):,.2f}"
