"""What every learner shares: the clip of its z targets and the rows predicted at a time."""

Z_CLIP = 6.0
PREDICT_CHUNK = 50_000
