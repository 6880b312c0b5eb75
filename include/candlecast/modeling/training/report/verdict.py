"""The report's lead: the served ranking against the best naive ranker, then the verdict per
horizon (both claims, and any the test window contradicted), in words before the plots."""

from __future__ import annotations

from candlecast.modeling.training.report.cells import Joined, format_value, grid, na, text
from candlecast.modeling.training.report.plots import plot_rankers, plot_verdict


def rankers_html(data: dict) -> str:
    """Where the served ranking stands against a rule that needs no model, said first."""
    if not data or not data.get("horizon"):
        return na("no validation evidence recorded")
    test = [
        (h, ic, naive)
        for h, ic, naive in zip(
            data["test_horizon"], data["test_ic"], data["test_naive_ic"], strict=True
        )
        if ic is not None and naive is not None
    ]
    behind = [h for h, ic, naive in test if ic < naive - 0.005]
    naive_served = sorted({s for s in data["signal"] if s and s.startswith("naive_")})
    words = (
        f"On the latest test window the served ranking is at or above the best naive ranker's "
        f"(within 0.005) at {len(test) - len(behind)} of {len(test)} horizons"
        + (f"; behind it at {format_value(behind)}." if behind else ".")
        + (f" Naive rankers served: {', '.join(naive_served)}." if naive_served else "")
    )
    return f"<p><strong>{text(words)}</strong></p>\n" + plot_rankers(data)


def _claims(evidence: list[dict]) -> str:
    relative = [row["horizon"] for row in evidence if row.get("relative_skill") == "validated"]
    direction = [row["horizon"] for row in evidence if row.get("skill") == "validated"]
    flagged = [row["horizon"] for row in evidence if row.get("test_below_zero")]
    if not relative and not direction:
        return "No skill at any horizon: every step serves the random walk at confidence 0.5."
    words = [
        f"Relative skill (the ranking) at {len(relative)} of {len(evidence)} horizons: "
        f"{format_value(relative)}.",
        f"Direction skill (the side) at {len(direction)}: {format_value(direction)}."
        if direction
        else "No direction skill: every step's confidence is 0.5.",
        "Every step without either serves the random walk.",
    ]
    if flagged:
        words.append(
            f"WARNING: claimed, yet below 0 on the test window at {format_value(flagged)}."
        )
    return " ".join(words)


def verdict_html(evidence: list[dict]) -> str:
    """Skill or no skill per horizon, said first in words, then the plot, then the figures."""
    if not evidence:
        return na("no validation evidence recorded")
    verdict = _claims(evidence)
    rows = [
        [
            row["horizon"],
            row.get("relative_skill"),
            row.get("skill"),
            row.get("signal"),
            Joined(row.get("rank_ic"), [row.get("rank_ic_low"), row.get("rank_ic_high")]),
            row.get("best_naive_ranker"),
            row.get("best_naive_ranker_ic"),
            row.get("test_rank_ic"),
            row.get("direction_accuracy"),
            row.get("best_naive_rule"),
            row.get("best_naive_accuracy"),
            row.get("n"),
        ]
        for row in evidence
    ]
    header = [
        "horizon",
        "relative skill",
        "direction skill",
        "signal",
        "rank IC [99 %]",
        "best naive ranker",
        "its IC",
        "test IC",
        "accuracy",
        "best naive rule",
        "its accuracy",
        "n",
    ]
    classes = [
        "model" if "validated" in (row.get("skill"), row.get("relative_skill")) else ""
        for row in evidence
    ]
    return (
        f"<p><strong>{text(verdict)}</strong></p>\n"
        + plot_verdict(evidence)
        + "\n"
        + grid(header, rows, classes)
    )
