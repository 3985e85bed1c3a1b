"""Classify a Dask DataFrame, on one machine or any ``dask.distributed`` cluster.

Needs the extra: ``pip install narrative-tactics[dask]``. Each partition goes through
``nlp.apps.batch.classify_frame``, so results equal the single-process ones row for row. The model
travels as a single node of the task graph (``dask.delayed``), not inside every partition's task:
each worker receives it once and keeps it for all the partitions it classifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .batch import classify_frame
from ..errors import TacticsError
from ..model.predict import TacticModel, load_model

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

__all__ = ["classify_dask"]


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


def _require_dask():
    try:
        import dask
        import dask.dataframe  # the DataFrame part of the extra (pandas, pyarrow support)
    except ImportError:
        raise TacticsError("nlp.apps.dask needs Dask: pip install narrative-tactics[dask]") from None
    return dask
