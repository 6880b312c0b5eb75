"""What an update run tells the data team: per-batch counts and findings (JSON-safe, for XCom),
run totals per timeframe, and at most one alert per run.

The alert sums up what is new in this run: candles held, series that failed to fetch, candles
flagged, and, when series arrived for the first time, their history as one summary line. A run
that found nothing new (a second run over unchanged data) raises nothing. Gaps are counted here
and recorded in `data_quality`, never alerted one by one.
"""

from __future__ import annotations

SEVERITY_ORDER = {"critical": 0, "warning": 1}
WORST_SHOWN = 5


def _problem(result: dict) -> dict | None:
    series = f"{result['ticker']} {result['timeframe']}"
    if result["status"] == "failed":
        return {"severity": "critical", "series": series, "weight": 10**6, "text": result["reason"]}
    if result.get("held"):
        text = result["reason"] + (f" — {result['notes'][0]}" if result.get("notes") else "")
        return {"severity": "critical", "series": series, "weight": result["held"], "text": text}
    if result.get("flagged"):
        note = next((n for n in result.get("notes", []) if "newest candle" not in n), "")
        text = f"{result['flagged']} candle(s) flagged" + (f" — {note}" if note else "")
        return {"severity": "warning", "series": series, "weight": result["flagged"], "text": text}
    return None


def batch_summary(results: list[dict]) -> dict:
    """Counts per status and timeframe, the problems of the batch, and the first-load history."""
    counts: dict[str, int] = {}
    by_timeframe: dict[str, dict[str, int]] = {}

    def add(key: str, n: int, timeframe: str) -> None:
        if n:
            counts[key] = counts.get(key, 0) + n
            row = by_timeframe.setdefault(timeframe, {})
            row[key] = row.get(key, 0) + n

    for r in results:
        tf = r["timeframe"]
        add(r["status"], 1, tf)
        add("series_with_held", int(bool(r.get("held"))), tf)
        add("candles_held", r.get("held", 0), tf)
        add("flagged", int(bool(r.get("flagged"))), tf)
        add("candles_flagged", r.get("flagged", 0), tf)
        add("pending", r.get("pending", 0), tf)
        add("gaps", len(r.get("gaps") or []), tf)
        add("missing_candles", sum(g["missing"] for g in r.get("gaps") or []), tf)
        add("incomplete_periods", len(r.get("incomplete") or []), tf)
        add("new_series", int(bool(r.get("new_series")) and r["status"] == "written"), tf)
    problems = [p for p in (_problem(r) for r in results) if p is not None]
    new = [r for r in results if r.get("new_series") and r["status"] == "written"]
    history = {
        "series": len(new),
        "first": min((r["first"] for r in new if r.get("first")), default=""),
        "last": max((r["last"] for r in new if r.get("last")), default=""),
        "gaps": sum(len(r.get("gaps") or []) for r in new),
        "missing_candles": sum(g["missing"] for r in new for g in r.get("gaps") or []),
        "flagged": sum(r.get("flagged", 0) for r in new),
        "held": sum(r.get("held", 0) for r in new),
    }
    return {
        "counts": counts,
        "by_timeframe": by_timeframe,
        "written": [r["path"] for r in results if r["status"] == "written"],
        "problems": problems,
        "notes": [n for r in results for n in r.get("notes") or []][:50],
        "history": history,
    }


def run_totals(batches: list[dict]) -> dict:
    totals: dict[str, int] = {}
    for batch in batches:
        for key, n in batch["counts"].items():
            totals[key] = totals.get(key, 0) + n
    return totals


def by_timeframe(batches: list[dict]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for batch in batches:
        for tf, row in batch.get("by_timeframe", {}).items():
            into = merged.setdefault(tf, {})
            for key, n in row.items():
                into[key] = into.get(key, 0) + n
    return merged


def _history_line(batches: list[dict]) -> str | None:
    parts = [b["history"] for b in batches if b.get("history", {}).get("series")]
    if not parts:
        return None
    series = sum(h["series"] for h in parts)
    first = min(h["first"] for h in parts if h["first"])[:10]
    last = max(h["last"] for h in parts if h["last"])[:10]
    gaps = sum(h["gaps"] for h in parts)
    missing = sum(h["missing_candles"] for h in parts)
    flagged, held = sum(h["flagged"] for h in parts), sum(h["held"] for h in parts)
    return (
        f"first load of {series} new series ({first} → {last}): {gaps} gaps "
        f"({missing} candles missing, in data_quality), {flagged} candles flagged, {held} held"
    )


def run_alert(batches: list[dict], totals: dict, run_id: str, docs: str) -> tuple | None:
    """(title, lines) of the run's one alert, or None when nothing new needs a word."""
    problems = [p for b in batches for p in b["problems"]]
    history = _history_line(batches)
    if not problems and history is None:
        return None
    critical = sum(1 for p in problems if p["severity"] == "critical")
    warning = len(problems) - critical
    series = sum(totals.get(k, 0) for k in ("written", "unchanged", "failed"))
    title = f"ohlcv_update {run_id}: {series} series, {critical} critical, {warning} warning" + (
        f", {totals.get('candles_held', 0)} candles held" if totals.get("candles_held") else ""
    )
    lines = [history] if history else []
    worst = sorted(problems, key=lambda p: (SEVERITY_ORDER[p["severity"]], -p["weight"]))
    lines += [f"{p['severity']}: {p['series']}: {p['text']}" for p in worst[:WORST_SHOWN]]
    if len(worst) > WORST_SHOWN:
        lines.append(f"… and {len(worst) - WORST_SHOWN} more series in the data_quality table")
    if totals.get("candles_held"):
        lines.append("review held candles: `candlecast quarantine list`")
    lines.append(f"Data Docs: {docs}")
    return title, lines
