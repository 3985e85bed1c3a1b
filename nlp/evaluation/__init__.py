"""Measuring models: evaluation reports, plots, comparisons, candidates, learning curves and the label audit."""
