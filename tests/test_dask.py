"""The Dask adapter on a real 2-process LocalCluster: the same results as classify_frame, the
model as one graph node shared by every partition, and the documented Parquet recipe."""

import builtins
import importlib.util

import pandas as pd
import pyarrow.parquet as pq
import pytest

from nlp import DataError, TacticsError, load_model
from nlp.apps.batch import classify_frame, result_schema, run_batch
from nlp.apps.dask import classify_dask
from nlp.model.predict import TacticModel

needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("dask") is None or importlib.util.find_spec("distributed") is None,
    reason="the dask extra is not installed (pip install .[dask])")


@pytest.fixture(scope="module")
def model(small_model):
    return load_model(small_model)


@pytest.fixture(scope="module")
def frame(small_corpus):
    frame = pd.read_json(small_corpus / "test.jsonl", lines=True)[["id", "text", "genre"]]
    frame.loc[[3, 77], "text"] = [None, "  "]
    return frame


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@needs_dask
def test_cluster_results_equal_classify_frame_row_for_row(client, model, frame):
    import dask.dataframe as dd

    result = classify_dask(dd.from_pandas(frame, npartitions=4), model=model,
                           keep_fields=["genre"])
    computed = result.compute()
    expected = classify_frame(model, frame, keep_fields=["genre"])
    pd.testing.assert_frame_equal(computed, expected)
    assert computed["error"].notna().sum() == 2 and len(computed) == len(frame)
    assert len(client.scheduler_info()["workers"]) == 2


@needs_dask
def test_the_model_is_one_graph_node_shared_by_every_partition(model, frame):
    import dask.dataframe as dd

    result = classify_dask(dd.from_pandas(frame, npartitions=5), model=model)
    graph = dict(result.__dask_graph__())
    model_keys = [key for key, node in graph.items()
                  if isinstance(getattr(node, "value", node), TacticModel)]
    assert len(model_keys) == 1
    partition_tasks = [node for key, node in graph.items() if model_keys[0] in
                       getattr(node, "dependencies", ())]
    assert len(partition_tasks) == 5


@needs_dask
def test_parquet_recipe_from_the_docs_matches_run_batch(client, model, frame, tmp_path):
    import dask.dataframe as dd

    ddf = dd.from_pandas(frame, npartitions=3)
    classify_dask(ddf, model=model).to_parquet(tmp_path / "dask", write_index=False,
                                               schema=result_schema(model.tactics))
    frame.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    run_batch(tmp_path / "in.jsonl", tmp_path / "batch.parquet", model=model, quiet=True)
    assert pq.read_table(tmp_path / "dask").to_pylist() == \
        pq.read_table(tmp_path / "batch.parquet").to_pylist()


@needs_dask
def test_a_missing_text_column_fails_before_anything_runs(model, frame):
    import dask.dataframe as dd

    with pytest.raises(DataError, match="no column 'body'"):
        classify_dask(dd.from_pandas(frame, npartitions=2), model=model, text_field="body")


def test_without_dask_the_error_names_the_extra(model, monkeypatch):
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "dask" or name.startswith("dask."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(TacticsError, match=r"pip install narrative-tactics\[dask\]"):
        classify_dask(None, model=model)
