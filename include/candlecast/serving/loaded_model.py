"""A model version as a worker serves it: its tag, the forecaster, and the evidence every
answer of that version carries (computed once per version, not per forecast)."""

from __future__ import annotations

from dataclasses import dataclass, field

from candlecast.api import HorizonEvidence
from candlecast.modeling import DEFAULT_RANK_FEE, ForecastModel
from candlecast.serving.forecast import model_evidence


@dataclass(frozen=True)
class LoadedModel:
    """A model version loaded for serving: its tag, the forecaster and its evidence."""

    tag: str
    model: ForecastModel
    fee: float = DEFAULT_RANK_FEE  # a side: the evidence's spreads are shown net of it
    evidence: tuple[HorizonEvidence, ...] = field(init=False)

    def __post_init__(self) -> None:
        # Per model version, not per forecast: every answer of this version carries it.
        object.__setattr__(self, "evidence", model_evidence(self.model, self.fee))
