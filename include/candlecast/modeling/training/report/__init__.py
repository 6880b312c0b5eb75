"""The HTML report of one model version.

`assemble`  from a training run to its report
`html`      one self-contained page
`cells`     values as text, tables of them
`verdict`   what the figures say
`plots`     the report's figures
"""

from candlecast.modeling.training.report.assemble import report_writer, run_paper_trading

__all__ = [
    "report_writer",
    "run_paper_trading",
]
