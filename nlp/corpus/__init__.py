"""The labelled corpus: records, validation, splits, the datasheet and near-duplicate checks."""
