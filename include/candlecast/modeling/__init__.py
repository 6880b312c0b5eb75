"""Models: the training table, the estimator artefact, training and evaluation."""
