"""flagcore-serve against a real server on 127.0.0.1 (an ephemeral port, stopped after): every endpoint, outputs equal
to the library's calls, the official ``openai`` client, bad requests, limits, and a bounded load test."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flagcore_serve")
httpx = pytest.importorskip("httpx")

from serve_helpers import LiveServer  # noqa: E402

from flagcore import FlagAutoModel, FlagAutoReranker  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAYERWISE = ROOT / "tests" / "parity" / "layerwise_models" / "tiny-minicpm-layerwise"
TOL = 1e-6
TEXTS = ["What is the capital of France?", "Paris is the capital of France.", "pandas eat bamboo",
         "a much longer sentence about retrieval, embeddings and rerankers which must still come back in order " * 3,
         "hello world", "x", "", "  leading and trailing spaces  "]


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    from parity.tiny_models import build, minilm_dir

    models = build(tmp_path_factory.mktemp("serve-tiny"))
    models["minilm"] = minilm_dir()
    return models


@pytest.fixture(scope="module")
def served(paths):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(max_inputs=64, max_chars=5000)
    specs = [f"minilm={paths['minilm']}", f"m3={paths['tiny-m3']}", f"rr={paths['tiny-bert-reranker']}",
             f"lw={LAYERWISE}", f"bert={paths['tiny-bert']}"]
    models = load_models(specs, settings, devices="cpu")
    with LiveServer(create_app(models, settings)) as server:
        yield server


@pytest.fixture(scope="module")
def library(paths):
    """The same models built by the library on their own, for reference outputs."""
    return {
        "minilm": FlagAutoModel.from_finetuned(str(paths["minilm"]), devices="cpu"),
        "m3": FlagAutoModel.from_finetuned(str(paths["tiny-m3"]), devices="cpu"),
        "rr": FlagAutoReranker.from_finetuned(str(paths["tiny-bert-reranker"]), devices="cpu"),
        "lw": FlagAutoReranker.from_finetuned(str(LAYERWISE), devices="cpu"),
        "bert": FlagAutoModel.from_finetuned(str(paths["tiny-bert"]), devices="cpu"),
    }


def post(server, path, body, **kwargs):
    if isinstance(body, bytes):  # JSON as sent, e.g. a lone surrogate escape
        return httpx.post(server.url + path, content=body, timeout=60, **kwargs)
    return httpx.post(server.url + path, json=body, timeout=60, **kwargs)


def vectors(response):
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [d["index"] for d in data] == list(range(len(data)))
    return np.array([d["embedding"] for d in data], dtype=np.float64)


# -- endpoints ------------------------------------------------------------------------------------------------------
def test_health_models_and_metrics(served):
    health = httpx.get(served.url + "/health").json()
    assert health["status"] == "ok" and health["models"] == ["minilm", "m3", "rr", "lw", "bert"]
    models = {m["id"]: m for m in httpx.get(served.url + "/v1/models").json()["data"]}
    assert models["minilm"]["default"] and models["minilm"]["dimensions"] == 384
    assert models["m3"]["outputs"] == ["colbert", "dense", "sparse"] and models["rr"]["kind"] == "reranker"
    post(served, "/v1/embeddings", {"input": "hello"})
    text = httpx.get(served.url + "/metrics").text
    for name in ("flagcore_serve_requests_total", "flagcore_serve_request_seconds_bucket",
                 "flagcore_serve_batch_inputs_bucket", "flagcore_serve_tokens_total", "flagcore_serve_queue_inputs"):
        assert name in text, name
    assert 'flagcore_serve_requests_total{endpoint="/v1/embeddings",status="200"}' in text


def test_embeddings_equal_the_library(served, library):
    lib = library["minilm"]
    response = post(served, "/v1/embeddings", {"input": TEXTS, "model": "minilm"})
    body = response.json()
    assert body["object"] == "list" and body["model"] == "minilm"
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > len(TEXTS)
    assert np.abs(vectors(response) - lib.encode_corpus(TEXTS)).max() <= TOL
    one = post(served, "/v1/embeddings", {"input": TEXTS[0]})  # a string; no model: the default
    assert np.abs(vectors(one)[0] - lib.encode_corpus(TEXTS[0])).max() <= TOL
    queries = post(served, "/v1/embeddings", {"input": TEXTS[:3], "model": "bert", "input_type": "query"})
    assert np.abs(vectors(queries) - library["bert"].encode_queries(TEXTS[:3])).max() <= TOL


def test_query_instruction_applies_only_to_queries(paths):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings()
    models = load_models([str(paths["tiny-bert"])], settings, devices="cpu",
                         query_instruction_for_retrieval="Represent this sentence for searching: ")
    lib = FlagAutoModel.from_finetuned(str(paths["tiny-bert"]), devices="cpu",
                                       query_instruction_for_retrieval="Represent this sentence for searching: ")
    with LiveServer(create_app(models, settings)) as server:
        q = vectors(post(server, "/v1/embeddings", {"input": TEXTS[:2], "input_type": "query"}))
        p = vectors(post(server, "/v1/embeddings", {"input": TEXTS[:2]}))
    assert np.abs(q - lib.encode_queries(TEXTS[:2])).max() <= TOL
    assert np.abs(p - lib.encode_corpus(TEXTS[:2])).max() <= TOL
    assert np.abs(q - p).max() > 1e-3


def test_base64_and_dimensions(served, library):
    full = library["minilm"].encode_corpus(TEXTS[:3])
    b64 = post(served, "/v1/embeddings", {"input": TEXTS[:3], "encoding_format": "base64"}).json()["data"]
    decoded = np.array([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in b64])
    assert np.abs(decoded - full).max() <= TOL
    short = vectors(post(served, "/v1/embeddings", {"input": TEXTS[:3], "dimensions": 64}))
    truncated = FlagAutoModel.from_finetuned(str(library["minilm"].model_name_or_path), devices="cpu",
                                             truncate_dim=64).encode_corpus(TEXTS[:3])
    assert short.shape == (3, 64) and np.abs(short - truncated).max() <= TOL


def test_the_openai_client_gets_the_same_vectors(served, library):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)
    expected = library["minilm"].encode_corpus(TEXTS)
    result = client.embeddings.create(model="minilm", input=TEXTS)  # the client asks for base64 and decodes it
    assert np.abs(np.array([d.embedding for d in result.data]) - expected).max() <= TOL
    result = client.embeddings.create(model="minilm", input=TEXTS, encoding_format="float")
    assert np.abs(np.array([d.embedding for d in result.data]) - expected).max() <= TOL
    assert result.usage.prompt_tokens > 0 and result.model == "minilm"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.embeddings.create(model="nope", input="x")
    with pytest.raises(openai.BadRequestError, match="empty array"):
        client.embeddings.create(model="minilm", input=[])


def test_sparse_and_colbert_equal_the_library(served, library):
    lib = library["m3"]
    expected = lib.encode(TEXTS, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    ids = post(served, "/v1/embeddings/sparse", {"input": TEXTS, "model": "m3", "sparse_format": "id"}).json()
    for got, want in zip(ids["data"], expected["lexical_weights"], strict=True):
        assert got["object"] == "sparse_embedding"
        # within TOL, not bit-equal: requests merged into other batches (other padding) move floats by ~1e-7
        weights = dict(zip(map(str, got["embedding"]["indices"]), got["embedding"]["values"], strict=True))
        assert weights.keys() == want.keys() and weights == pytest.approx(dict(want), abs=TOL)
    tokens = post(served, "/v1/embeddings/sparse", {"input": TEXTS, "model": "m3"}).json()["data"]
    for got, want in zip(tokens, expected["lexical_weights"], strict=True):
        want = lib.convert_id_to_token(want) if want else {}
        assert got["embedding"].keys() == want.keys() and got["embedding"] == pytest.approx(want, abs=TOL)
    colbert = post(served, "/v1/embeddings/colbert", {"input": TEXTS, "model": "m3"}).json()["data"]
    for got, want in zip(colbert, expected["colbert_vecs"], strict=True):
        assert np.array(got["embedding"]).shape == want.shape
        assert np.abs(np.array(got["embedding"]) - want).max() <= TOL
    dense = vectors(post(served, "/v1/embeddings", {"input": TEXTS, "model": "m3"}))
    assert np.abs(dense - expected["dense_vecs"]).max() <= TOL
    refused = post(served, "/v1/embeddings/sparse", {"input": "x", "model": "minilm"})
    assert refused.status_code == 400 and "lexical" in refused.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank"])
@pytest.mark.parametrize("name", ["rr", "lw"])
def test_rerank_equals_the_library(served, library, path, name):
    query, docs = TEXTS[0], TEXTS[1:]
    raw = library[name].compute_score([(query, d) for d in docs])
    squashed = library[name].compute_score([(query, d) for d in docs], normalize=True)
    body = post(served, path, {"query": query, "documents": docs, "model": name, "return_documents": True}).json()
    results = body["results"]
    assert body["model"] == name and body["usage"]["total_tokens"] > 0
    assert [r["index"] for r in results] == sorted(range(len(docs)), key=lambda i: -squashed[i])
    for r in results:
        assert abs(r["relevance_score"] - squashed[r["index"]]) <= TOL and r["document"] == {"text": docs[r["index"]]}
    top = post(served, path, {"query": query, "documents": [{"text": d} for d in docs], "model": name, "top_n": 2,
                              "raw_scores": True}).json()["results"]
    assert len(top) == 2 and "document" not in top[0]
    assert all(abs(r["relevance_score"] - raw[r["index"]]) <= TOL for r in top)


def test_rerank_without_a_model_picks_a_reranker(served):
    body = post(served, "/v1/rerank", {"query": "q", "documents": ["a"]}).json()
    assert body["model"] == "rr"


# -- bad requests ---------------------------------------------------------------------------------------------------
BAD = [
    ("/v1/embeddings", {"input": 3}, 400, "'input' must be a string or an array of strings"),
    ("/v1/embeddings", {"input": [1, 2]}, 400, "token ids"),
    ("/v1/embeddings", {"input": ["a", None]}, 400, "'input[1]' must be a string"),
    ("/v1/embeddings", {}, 400, "'input' is required"),
    ("/v1/embeddings", {"input": []}, 400, "empty array"),
    ("/v1/embeddings", {"input": ["a"] * 65}, 400, "limit is 64"),
    ("/v1/embeddings", {"input": "a" * 5001}, 400, "limit is 5000"),
    ("/v1/embeddings", {"input": "a", "model": "nope"}, 404, "does not exist"),
    ("/v1/embeddings", {"input": "a", "model": 7}, 400, "'model' must be a string"),
    ("/v1/embeddings", {"input": "a", "model": "rr"}, 400, "is a reranker"),
    ("/v1/embeddings", {"input": "a", "encoding_format": "int8"}, 400, "'encoding_format' must be one of"),
    ("/v1/embeddings", {"input": "a", "dimensions": 0}, 400, "'dimensions' must be a positive integer"),
    ("/v1/embeddings", {"input": "a", "dimensions": 1000}, 400, "384-dimensional"),
    ("/v1/embeddings", {"input": "a", "input_type": "question"}, 400, "'input_type' must be one of"),
    ("/v1/embeddings", b'{"input": "\\ud800"}', 400, "surrogate"),
    ("/v1/embeddings", [1, 2], 400, "must be a JSON object"),
    ("/v1/rerank", {"query": "q", "documents": "a"}, 400, "'documents' must be an array"),
    ("/v1/rerank", {"query": 1, "documents": ["a"]}, 400, "'query' must be a string"),
    ("/v1/rerank", {"query": "q", "documents": []}, 400, "empty array"),
    ("/v1/rerank", {"query": "q", "documents": ["a"], "top_n": -1}, 400, "'top_n' must be a positive integer"),
    ("/v1/rerank", {"query": "q", "documents": ["a"], "return_documents": "yes"}, 400, "true or false"),
    ("/v1/rerank", {"query": "q", "documents": ["a"], "model": "minilm"}, 400, "is an embedder"),
    ("/v1/embeddings/colbert", {"input": "a", "model": "minilm"}, 400, "ColBERT"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD, ids=[m for *_, m in BAD])
def test_bad_requests_get_a_clear_error_in_openais_shape(served, path, body, status, message):
    response = post(served, path, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


@pytest.mark.parametrize(("raw", "message"), [(b'{"input": ', "not valid JSON"), (b"", "body is empty"),
                                              (b"\xff\xfe", "not valid JSON")])
def test_malformed_bodies(served, raw, message):
    response = httpx.post(served.url + "/v1/embeddings", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_a_10_mb_body_is_refused_and_the_server_carries_on(served):
    body = json.dumps({"input": ["a" * 1000] * 10_000}).encode()
    assert len(body) > 10_000_000
    response = httpx.post(served.url + "/v1/embeddings", content=body, headers={"content-type": "application/json"},
                          timeout=60)
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]
    assert post(served, "/v1/embeddings", {"input": "still here"}).status_code == 200


def test_unknown_route_and_method(served):
    assert httpx.get(served.url + "/v1/nothing").json()["error"]["message"] == "no such endpoint: GET /v1/nothing"
    assert httpx.get(served.url + "/v1/embeddings").status_code == 405


def test_bearer_token(paths):
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(api_key="s3cret")
    with LiveServer(create_app(load_models([str(paths["tiny-bert"])], settings, devices="cpu"), settings)) as server:
        assert httpx.get(server.url + "/health").status_code == 200  # health and metrics stay open
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            response = post(server, "/v1/embeddings", {"input": "a"}, headers=headers)
            assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
        assert httpx.get(server.url + "/v1/models").status_code == 401
        assert post(server, "/v1/embeddings", {"input": "a"},
                    headers={"Authorization": "Bearer s3cret"}).status_code == 200


@pytest.fixture
def slow_server(paths):
    """tiny-bert behind a server whose runs take 0.8 s more, one request per run (queue of 4 inputs, 2 s
    timeout)."""
    from flagcore_serve import ServeSettings, create_app, load_models

    settings = ServeSettings(max_queue=4, request_timeout=2.0, max_run_tokens=1)
    (item,) = load_models([str(paths["tiny-bert"])], settings, devices="cpu")
    run, state = item.run, {"fail": False}

    def slow_run(key, columns):
        time.sleep(0.8)
        if state["fail"]:
            state["fail"] = False
            raise RuntimeError("boom")
        return run(key, columns)

    item.run = slow_run
    with LiveServer(create_app([item], settings)) as server:
        server.state = state
        yield server


def test_queue_full_timeout_failure_and_health_during_a_run(slow_server):
    results = {}

    def call(name, texts):
        results[name] = post(slow_server, "/v1/embeddings", {"input": texts})

    first = threading.Thread(target=call, args=("first", ["a"]))
    first.start()
    time.sleep(0.2)  # the first run is in progress
    start = time.monotonic()
    assert httpx.get(slow_server.url + "/health").status_code == 200
    assert time.monotonic() - start < 0.3  # answered while the run goes on
    second = threading.Thread(target=call, args=("second", ["b"] * 4))
    second.start()
    deadline = time.monotonic() + 5
    while httpx.get(slow_server.url + "/health").json()["queued"] != {slow_server_name(slow_server): 4}:
        assert time.monotonic() < deadline, "the second request never reached the queue"
        time.sleep(0.01)
    full = post(slow_server, "/v1/embeddings", {"input": ["c"] * 2})
    assert full.status_code == 429 and "queue" in full.json()["error"]["message"]
    assert full.json()["error"]["type"] == "rate_limit_error"
    first.join()
    second.join()
    assert results["first"].status_code == 200 and results["second"].status_code == 200
    behind = [threading.Thread(target=call, args=(f"late{i}", ["d"])) for i in range(4)]
    for t in behind:
        t.start()
    for t in behind:
        t.join()
    statuses = sorted(results[f"late{i}"].status_code for i in range(4))
    assert 504 in statuses and statuses[0] == 200, statuses  # 4 runs of 0.8 s in turn: the last times out
    time.sleep(1.0)
    slow_server.state["fail"] = True
    failed = post(slow_server, "/v1/embeddings", {"input": "e"})
    assert failed.status_code == 500 and "RuntimeError: boom" in failed.json()["error"]["message"]
    assert post(slow_server, "/v1/embeddings", {"input": "f"}).status_code == 200  # the worker carries on


def slow_server_name(server):
    return httpx.get(server.url + "/health").json()["models"][0]


# -- load -----------------------------------------------------------------------------------------------------------
def test_load_16_clients_by_100_requests_all_equal_the_library(served, library):
    rng = random.Random(0)
    words = "the of and capital france paris pandas eat bamboo retrieval embeddings query passage long".split()
    pool = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    expected = library["bert"].encode_corpus(pool)
    failures, checked = [], [0]

    async def client(seed):
        r = random.Random(seed)
        async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
            for _ in range(100):
                picks = [r.randrange(len(pool)) for _ in range(r.choice([1, 1, 2, 4, 8, 16]))]
                response = await http.post("/v1/embeddings", json={"input": [pool[i] for i in picks],
                                                                   "model": "bert"})
                if response.status_code != 200:
                    failures.append(response.text)
                    continue
                got = np.array([d["embedding"] for d in response.json()["data"]])
                if got.shape != (len(picks), expected.shape[1]) or np.abs(got - expected[picks]).max() > TOL:
                    failures.append(f"wrong output for {picks}")
                checked[0] += 1

    async def main():
        await asyncio.gather(*(client(seed) for seed in range(16)))

    start = time.monotonic()
    asyncio.run(main())
    assert not failures, failures[:3]
    assert checked[0] == 1600
    batches = httpx.get(served.url + "/metrics").text
    print(f"load: 1600 requests in {time.monotonic() - start:.1f} s")
    assert 'flagcore_serve_batch_inputs_count{model="bert"}' in batches


# -- the command ----------------------------------------------------------------------------------------------------
def test_the_serve_command_is_discovered_and_light():
    code = ("import sys; from flagcore.cli import build_parser; p = build_parser(); "
            "print('serve' in p._subparsers._group_actions[0].choices, 'fastapi' in sys.modules, "
            "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False", "False"]


def test_without_the_serve_distribution_the_command_names_the_extra(monkeypatch, capsys):
    import importlib_metadata

    from flagcore.cli import main

    real = importlib_metadata.entry_points

    def without_serve(**kwargs):
        found = real(**kwargs)
        return [ep for ep in found if ep.name != "serve"] if kwargs.get("group") == "flagcore.commands" else found

    monkeypatch.setattr(importlib_metadata, "entry_points", without_serve)
    assert main(["serve", "some-model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'flagcore[serve]'" in err


def test_a_broken_command_entry_point_is_skipped_with_a_warning(monkeypatch):
    import importlib_metadata

    from flagcore.cli import build_parser

    broken = importlib_metadata.EntryPoint("broken", "no_such_module_xyz:add", "flagcore.commands")
    real = importlib_metadata.entry_points

    def with_broken(**kwargs):
        found = list(real(**kwargs))
        return [*found, broken] if kwargs.get("group") == "flagcore.commands" else found

    monkeypatch.setattr(importlib_metadata, "entry_points", with_broken)
    with pytest.warns(RuntimeWarning, match="'broken'"):
        parser = build_parser()
    assert parser.parse_args(["plugins"]).command == "plugins"


@pytest.mark.slow
def test_flagcore_serve_answers_the_openai_client(paths, library):
    import socket

    openai = pytest.importorskip("openai")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "flagcore", "serve", str(paths["minilm"]), "--port", str(port),
                                "--devices", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.25)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        model = client.models.list().data[0].id
        result = client.embeddings.create(model=model, input=TEXTS)
        got = np.array([d.embedding for d in result.data])
        assert np.abs(got - library["minilm"].encode_corpus(TEXTS)).max() <= TOL
    finally:
        process.terminate()
        process.wait(timeout=30)
