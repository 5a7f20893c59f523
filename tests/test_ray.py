"""flagcore-ray on a local Ray instance (2 CPUs): Parquet rows embedded by actors equal single-process flagcore (dense,
M3 lexical and ColBERT, rerank scores), with 1 and 2 actors, through ``flagcore encode --ray`` too; a failing actor
surfaces as an error. Without a cluster: the sizing plan, the token budget each actor's model gets (its own unless
asked), and ``--ray`` added to ``flagcore encode`` by the distribution's entry point."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.cli import build_parser, main

ray = pytest.importorskip("ray")
flagcore_ray = pytest.importorskip("flagcore_ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_rerank_scores_query_and_passage_columns(local_ray, tiny_models):
    model = str(tiny_models["tiny-bert-reranker"])
    pairs = [("what do pandas eat?", t) for t in TEXTS[:50]]
    ds = ray.data.from_items([{"id": i, "query": q, "passage": p} for i, (q, p) in enumerate(pairs)])
    rows = by_id(flagcore_ray.rerank_dataset(ds, model, model_class="encoder-only-base", rows_per_batch=16).take_all())
    reranker = FlagAutoReranker.from_finetuned(model, model_class="encoder-only-base", devices="cpu")
    expected = reranker.compute_score(pairs)
    np.testing.assert_allclose([row["score"] for row in rows], expected, atol=1e-5)


@pytest.mark.slow
def test_encode_command_with_ray_writes_parquet(local_ray, parquet, tiny_models, tmp_path):
    model, out = str(tiny_models["tiny-bert"]), tmp_path / "out"
    assert main(["encode", model, "--model-class", "encoder-only-base", "--ray", "-i", parquet, "-o", str(out)]) == 0
    table = pq.read_table(out).to_pylist()
    rows = by_id(table)
    expected = FlagAutoModel.from_finetuned(model, model_class="encoder-only-base", devices="cpu").encode_corpus(TEXTS)
    np.testing.assert_allclose(np.stack([row["embedding"] for row in rows]), expected, atol=1e-6)


@pytest.mark.slow
def test_a_failing_actor_surfaces_as_an_error(local_ray, tiny_models):
    ds = ray.data.from_items([{"id": i, "text": "fine" if i != 7 else None} for i in range(20)])
    ds = flagcore_ray.embed_dataset(ds, str(tiny_models["tiny-bert"]), model_class="encoder-only-base")
    with pytest.raises(Exception, match="TypeError") as error:
        ds.take_all()
    assert "item 7" in str(error.value) or "None" in str(error.value)


def test_plan_sizes_actors_from_the_cluster():
    cpu = flagcore_ray.plan({"CPU": 16})
    assert (cpu.concurrency, cpu.num_cpus, cpu.num_gpus) == (3, 4.0, 0.0)
    assert flagcore_ray.plan({"CPU": 2}).concurrency == 1  # one CPU left to the read tasks
    gpu = flagcore_ray.plan({"CPU": 32, "GPU": 4}, actors_per_gpu=2)
    assert (gpu.concurrency, gpu.num_gpus) == (8, 0.5)
    assert cpu.batch_tokens is None and gpu.batch_tokens is None  # each model's own budget
    assert flagcore_ray.plan({"CPU": 16}, batch_tokens=4096).batch_tokens == 4096


class MapBatchesRecorder:
    """Stands for a Ray Dataset: keeps what ``map_batches`` was called with, runs nothing."""

    def map_batches(self, fn, **kwargs):
        self.fn, self.kwargs = fn, kwargs
        return self

    def actor(self):
        """The mapper one actor would build (in this process, on the CPU; torch's thread count left as it was)."""
        threads = torch.get_num_threads()
        try:
            return self.fn(*self.kwargs["fn_constructor_args"], **self.kwargs["fn_constructor_kwargs"])
        finally:
            torch.set_num_threads(threads)


@pytest.fixture
def four_cpus(monkeypatch):
    """A cluster of 4 CPUs as ``ray.cluster_resources()`` reports it, without starting one."""
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 4.0})


@pytest.mark.parametrize("mapping", [flagcore_ray.embed_dataset, flagcore_ray.rerank_dataset])
def test_ray_passes_a_token_budget_only_when_asked(four_cpus, mapping):
    def actor_kwargs(**options):
        return mapping(MapBatchesRecorder(), "some-model", **options).kwargs["fn_constructor_kwargs"]

    assert "max_batch_tokens" not in actor_kwargs()
    assert actor_kwargs(batch_tokens=300)["max_batch_tokens"] == 300
    assert actor_kwargs(max_batch_tokens=200)["max_batch_tokens"] == 200


@pytest.mark.slow
def test_an_actor_keeps_the_familys_token_budget(four_cpus, tmp_path):
    from parity.tiny_decoders import build

    model = str(build(tmp_path, roles=("tiny-llama",))["tiny-llama"])
    actor = flagcore_ray.embed_dataset(MapBatchesRecorder(), model).actor()
    assert actor.model.batch_token_budget == 512  # the decoder-only family's CPU budget, not the encoders' 2048
    assert flagcore_ray.embed_dataset(MapBatchesRecorder(), model, batch_tokens=64).actor().model.batch_token_budget \
        == 64


def test_the_distribution_adds_ray_to_encode(monkeypatch, capsys, tmp_path):
    calls = []

    def encode_parquet(*args, **kwargs):
        calls.append((args, kwargs))
        return 7

    monkeypatch.setattr(flagcore_ray, "encode_parquet", encode_parquet)
    assert main(["encode", "m", "--ray", "-i", "in.parquet", "-o", "out", "--queries", "--max-length", "64",
                 "--devices", "cuda:0"]) == 0
    assert calls == [(("in.parquet", "out", "m"), {"column": "text", "query": True, "query_max_length": 64,
                                                   "passage_max_length": 64})]  # Ray gives each actor its device
    assert "wrote 7 embeddings to out (Parquet files)" in capsys.readouterr().err
    assert main(["encode", "m", "-i", str(tmp_path / "missing.txt")]) == 1  # without --ray: the core's encode
    assert len(calls) == 1 and "FileNotFoundError" in capsys.readouterr().err


def test_the_ray_option_is_discovered_and_light():
    code = "from flagcore.cli import main; main(['encode', '--help'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "--ray" in out.stdout and not out.stderr
    code = ("import sys; from flagcore.cli import build_parser; build_parser(); "
            "print('flagcore_ray.cli' in sys.modules, 'ray' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_a_broken_ray_distribution_leaves_encode_working_and_names_the_extra(monkeypatch, capsys):
    for module in ("flagcore_ray", "flagcore_ray.cli"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.warns(RuntimeWarning, match="options of command 'encode' .*flagcore_ray.cli"):
        assert main(["encode", "some-model", "--ray", "-i", "x.parquet", "-o", "out"]) == 1
    from flagcore.extras import install_hint

    assert f"flagcore encode --ray needs flagcore-ray: {install_hint('ray')}" in capsys.readouterr().err
    with pytest.warns(RuntimeWarning, match="flagcore_ray.cli"):
        assert not hasattr(build_parser().parse_args(["encode", "m"]), "ray")
