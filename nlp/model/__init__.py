"""The classifier: features, estimators, calibration, training, model files, prediction and evidence."""
