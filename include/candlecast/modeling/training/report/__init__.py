"""The HTML report of one model version: assembled from a training run (`assemble`), rendered as
one self-contained page (`html`) with its figures (`plots`)."""

from candlecast.modeling.training.report.assemble import report_writer, run_paper_trading
from candlecast.modeling.training.report.html import (
    SECTIONS,
    ReportInput,
    format_value,
    render_report,
    write_report,
)

__all__ = [
    "SECTIONS",
    "ReportInput",
    "format_value",
    "render_report",
    "report_writer",
    "run_paper_trading",
    "write_report",
]
