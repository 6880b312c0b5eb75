"""The report's cells: values as text (n/a for what was not measured), tables of them."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MISSING = "n/a"
MAX_LIST_ITEMS = 12


def text(value) -> str:
    return html.escape(str(value))


def format_value(value) -> str:
    """One cell: n/a for None/NaN/inf, 4 significant digits for floats, [low, high] for pairs
    (a long list shortened)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple | np.ndarray):
        shown = ", ".join(format_value(v) for v in list(value)[:MAX_LIST_ITEMS])
        more = f", … ({len(value)} in all)" if len(value) > MAX_LIST_ITEMS else ""
        return f"[{shown}{more}]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items())
    return str(value)


def cell(value) -> str:
    text = format_value(value)
    return f'<span class="na">{MISSING}</span>' if text == MISSING else html.escape(text)


def grid(header: Sequence[str], rows: Sequence[Sequence], classes: Sequence[str] = ()) -> str:
    """A table with a header row; `classes` styles the rows (e.g. the model's) in order."""
    classes = list(classes) + [""] * (len(rows) - len(classes))
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    body = "".join(
        (f'<tr class="{text(cls)}">' if cls else "<tr>")
        + "".join(f"<td>{cell(v)}</td>" for v in row)
        + "</tr>"
        for row, cls in zip(rows, classes, strict=True)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def na(why: str) -> str:
    return f'<p class="na">{MISSING}: {text(why)}</p>'


@dataclass(frozen=True)
class Joined:
    """A figure shown with its interval, e.g. 0.5312 [0.51, 0.55]."""

    value: object
    interval: object

    def __str__(self) -> str:
        value, interval = format_value(self.value), format_value(self.interval)
        return value if interval == MISSING else f"{value} {interval}"
