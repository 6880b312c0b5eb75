"""The four base learners of the ensemble, one interface: z for (panel row, horizon) pairs.

Every learner predicts the horizon-normalised log return z. The ridge learner is one penalised
linear map per horizon over the standardised features, fitted to z against the other coins at
the same candle (weak, broad signals are where trees overfit and a linear map does not); tree
learners see one feature row plus the horizon; the LSTM sees the last SEQUENCE_LENGTH rows of its
symbol and predicts all 30 horizons at once. The LSTM is trained with keras (jax backend) and
served by a few lines of numpy running the same cell, so the Bento never imports keras.
"""

from candlecast.modeling.learners.limits import Z_CLIP
from candlecast.modeling.learners.lstm import LSTMLearner
from candlecast.modeling.learners.ridge import RidgeLearner
from candlecast.modeling.learners.trees import RandomForestLearner, XGBoostLearner

__all__ = [
    "Z_CLIP",
    "LSTMLearner",
    "RandomForestLearner",
    "RidgeLearner",
    "XGBoostLearner",
]
