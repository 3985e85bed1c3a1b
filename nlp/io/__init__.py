"""Feeds in and out: readers and writers for JSONL, CSV, Parquet and plain text (.gz too), atomic outputs, Markdown tables."""
