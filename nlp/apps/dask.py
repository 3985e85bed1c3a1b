"""Classify a Dask DataFrame, on one machine or any ``dask.distributed`` cluster.

Needs the extra: ``pip install narrative-tactics[dask]``. Each partition goes through
``nlp.apps.batch.classify_frame``, so results equal the single-process ones row for row. The model
travels as a single node of the task graph (``dask.delayed``), not inside every partition's task:
each worker receives it once and keeps it for all the partitions it classifies.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .batch import classify_frame
from .report import (FeedReport, ReportBuilder, ReportOptions, canonical_chunk, classified,
                     frame_records, write_report)
from ..errors import TacticsError
from ..model.predict import TacticModel, _chunks, load_model
from ..taxonomy import load_taxonomy

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

__all__ = ["classify_dask", "report_dask"]


def classify_dask(ddf: dd.DataFrame, *, model: TacticModel | str | Path | None = None,
                  text_field: str = "text", id_field: str = "id", keep_fields: Sequence[str] = (),
                  evidence: bool = False) -> dd.DataFrame:
    """``ddf`` classified partition by partition (lazily): a Dask DataFrame with the columns of
    ``classify_frame`` and ``ddf``'s partitions and index. Give ids: where a row has none, its
    id is its position within its partition."""
    dask = _require_dask()
    model = model if isinstance(model, TacticModel) else load_model(model)
    options = {"text_field": text_field, "id_field": id_field, "keep_fields": tuple(keep_fields),
               "evidence": evidence}
    meta = classify_frame(model, ddf._meta, **options)
    shipped = dask.delayed(model, pure=True, traverse=False)
    return ddf.map_partitions(_classify_partition, shipped, meta=meta, **options)


def _classify_partition(frame: pd.DataFrame, model: TacticModel, **options) -> pd.DataFrame:
    return classify_frame(model, frame, **options)


KEY_BITS = 40     # a row's key: its partition, shifted, plus its 1-based place in the partition


def report_dask(ddf: dd.DataFrame, *, model: TacticModel | str | Path | None = None,
                out: str | Path | None = None, options: ReportOptions | None = None,
                **fields) -> FeedReport:
    """The feed report of a Dask DataFrame: each partition is classified where it lacks
    ``labels`` and summarised (counts and MinHash signatures) on the workers; the summaries are
    merged here, where clusters are found and their texts fetched from their partitions."""
    dask = _require_dask()
    started = time.perf_counter()
    options = options or ReportOptions(**fields)
    options.check_columns(ddf.columns)
    needs_model = "labels" not in ddf.columns or bool(ddf["labels"].isna().any().compute())
    model = (model if isinstance(model, TacticModel) else load_model(model)) if needs_model else None
    shipped = dask.delayed(model, pure=True, traverse=False)
    parts = [dask.delayed(_summarise)(part, index, shipped, options)
             for index, part in enumerate(ddf.to_delayed())]
    builders = dask.compute(*parts)
    builder = builders[0] if builders else ReportBuilder(options, load_taxonomy().ids)
    for other in builders[1:]:
        builder.merge(other)

    def lookup(keys: set) -> dict:
        found = {}
        for index in sorted({key >> KEY_BITS for key in keys}):
            frame = ddf.get_partition(index).compute()
            for record in frame_records(frame, options, first_key=index << KEY_BITS | 1):
                if record["row"] in keys:
                    found[record["row"]] = (record["id"], record["text"])
        return found

    report = builder.finish(lookup, model, started)
    return write_report(report, out) if out is not None else report


def _summarise(frame: pd.DataFrame, index: int, model: TacticModel | None,
               options: ReportOptions, chunk_size: int = 1000) -> ReportBuilder:
    tactics = load_taxonomy().ids
    builder = ReportBuilder(options, tactics)
    records = frame_records(frame, options, first_key=index << KEY_BITS | 1)
    chunks = (canonical_chunk(part, set(tactics)) for part in _chunks(records, chunk_size))
    for chunk in classified(chunks, lambda: model):
        builder.add(chunk)
    return builder


def _require_dask():
    try:
        import dask
        import dask.dataframe  # the DataFrame part of the extra (pandas, pyarrow support)
    except ImportError:
        raise TacticsError("nlp.apps.dask needs Dask: pip install narrative-tactics[dask]") from None
    return dask
