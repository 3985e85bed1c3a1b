"""Applications over a trained model: batch feeds, Dask, the analyst web service, feedback store, terminal display."""
