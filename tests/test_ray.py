"""flagcore-ray on a local Ray instance (2 CPUs): Parquet rows embedded by actors equal single-process flagcore (dense,
M3 lexical and ColBERT, rerank scores), with 1 and 2 actors, through ``flagcore encode --ray`` too; a failing actor
surfaces as an error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.cli import main

ray = pytest.importorskip("ray")
flagcore_ray = pytest.importorskip("flagcore_ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.slow
TEXTS = [f"passage {i}: " + "giant pandas eat bamboo shoots " * (1 + i % 6) for i in range(300)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("ray") / "texts.parquet"
    # ids in reverse, several row groups: the order of the output is not the order of the input
    pq.write_table(pa.table({"id": list(range(len(TEXTS)))[::-1], "text": TEXTS[::-1]}), path, row_group_size=70)
    return str(path)


def by_id(rows):
    return sorted(rows, key=lambda row: row["id"])


@pytest.mark.parametrize("actors", [1, 2])
def test_dense_rows_equal_single_process_flagcore(local_ray, parquet, tiny_models, actors):
    model = str(tiny_models["tiny-bert"])
    ds = flagcore_ray.embed_dataset(ray.data.read_parquet(parquet, override_num_blocks=4), model,
                                    model_class="encoder-only-base",
                                    concurrency=actors, num_cpus=1 / actors, rows_per_batch=64)
    rows = by_id(ds.take_all())
    assert [row["id"] for row in rows] == list(range(len(TEXTS)))
    assert [row["text"] for row in rows] == TEXTS
    expected = FlagAutoModel.from_finetuned(model, model_class="encoder-only-base", devices="cpu").encode_corpus(TEXTS)
    np.testing.assert_allclose(np.stack([row["embedding"] for row in rows]), expected, atol=1e-6)


def test_m3_lexical_and_colbert_columns(local_ray, tiny_models):
    model = str(tiny_models["tiny-m3"])
    texts = TEXTS[:40]
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    ds = flagcore_ray.embed_dataset(ds, model, outputs=("dense", "lexical", "colbert"), rows_per_batch=16)
    rows = by_id(ds.take_all())
    modes = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}
    expected = FlagAutoModel.from_finetuned(model, devices="cpu").encode_corpus(texts, **modes)
    np.testing.assert_allclose(np.stack([r["embedding"] for r in rows]), expected["dense_vecs"], atol=1e-6)
    for row, weights, colbert in zip(rows, expected["lexical_weights"], expected["colbert_vecs"], strict=True):
        got = dict(row["embedding_lexical"])
        assert sorted(got) == sorted(weights)
        np.testing.assert_allclose([got[k] for k in sorted(got)], [weights[k] for k in sorted(got)], atol=1e-6)
        np.testing.assert_allclose(np.stack(row["embedding_colbert"]), colbert, atol=1e-6)


def test_rerank_scores_query_and_passage_columns(local_ray, tiny_models):
    model = str(tiny_models["tiny-bert-reranker"])
    pairs = [("what do pandas eat?", t) for t in TEXTS[:50]]
    ds = ray.data.from_items([{"id": i, "query": q, "passage": p} for i, (q, p) in enumerate(pairs)])
    rows = by_id(flagcore_ray.rerank_dataset(ds, model, model_class="encoder-only-base", rows_per_batch=16).take_all())
    reranker = FlagAutoReranker.from_finetuned(model, model_class="encoder-only-base", devices="cpu")
    expected = reranker.compute_score(pairs)
    np.testing.assert_allclose([row["score"] for row in rows], expected, atol=1e-5)


def test_encode_command_with_ray_writes_parquet(local_ray, parquet, tiny_models, tmp_path):
    model, out = str(tiny_models["tiny-bert"]), tmp_path / "out"
    assert main(["encode", model, "--model-class", "encoder-only-base", "--ray", "-i", parquet, "-o", str(out)]) == 0
    table = pq.read_table(out).to_pylist()
    rows = by_id(table)
    expected = FlagAutoModel.from_finetuned(model, model_class="encoder-only-base", devices="cpu").encode_corpus(TEXTS)
    np.testing.assert_allclose(np.stack([row["embedding"] for row in rows]), expected, atol=1e-6)


def test_a_failing_actor_surfaces_as_an_error(local_ray, tiny_models):
    ds = ray.data.from_items([{"id": i, "text": "fine" if i != 7 else None} for i in range(20)])
    ds = flagcore_ray.embed_dataset(ds, str(tiny_models["tiny-bert"]), model_class="encoder-only-base")
    with pytest.raises(Exception, match="TypeError") as error:
        ds.take_all()
    assert "item 7" in str(error.value) or "None" in str(error.value)


def test_plan_sizes_actors_from_the_cluster():
    cpu = flagcore_ray.plan({"CPU": 16})
    assert (cpu.concurrency, cpu.num_cpus, cpu.num_gpus, cpu.batch_tokens) == (3, 4.0, 0.0, 2048)
    assert flagcore_ray.plan({"CPU": 2}).concurrency == 1  # one CPU left to the read tasks
    gpu = flagcore_ray.plan({"CPU": 32, "GPU": 4}, actors_per_gpu=2)
    assert (gpu.concurrency, gpu.num_gpus, gpu.batch_tokens) == (8, 0.5, 65536)


def test_encode_ray_without_the_extra_names_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "flagcore_ray", None)
    assert main(["encode", "some-model", "--ray", "-i", str(tmp_path / "x.parquet"), "-o", str(tmp_path / "o")]) == 1
    assert "pip install 'flagcore[ray]'" in capsys.readouterr().err
