"""flagcore-serve's operations: the drain on SIGTERM or SIGINT (a real ``flagcore serve`` process), a second signal,
readiness, clients that disconnect, the TEI-named limits and ``--max-concurrent-requests``."""

from __future__ import annotations

import json
import re
import signal
import socket
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

TOL = 1e-5
#: texts of different lengths, cycled through the large request that holds the batcher
HOLD_TEXTS = [f"sentence {i}: " + "the quick brown fox jumps over the lazy dog and keeps running " * (2 + i % 5)
              for i in range(8)]


# -- in-process: a server whose runs wait for the test --------------------------------------------------------------
class Gated:
    """tiny-bert behind a live server; each run records its rows and waits for ``gate`` (one request per run)."""

    def __init__(self, path: Path, **limits: float) -> None:
        from flagcore_serve import ServeSettings, create_app, load_models

        self.settings = ServeSettings(max_run_tokens=1, **limits)
        (self.item,) = load_models([str(path)], self.settings, devices="cpu")
        self.gate, self.started, self.runs = threading.Event(), threading.Event(), []
        run = self.item.run

        def gated_run(key, work):
            self.runs.append(work.rows)
            self.started.set()
            assert self.gate.wait(30), "the test never opened the gate"
            return run(key, work)

        self.item.run = gated_run
        self.app = create_app([self.item], self.settings)
        self.results: dict[str, httpx.Response] = {}
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> Gated:
        self.live = LiveServer(self.app).__enter__()
        self.url = self.live.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.live.__exit__(*exc)

    def post(self, name: str, body: dict, path: str = "/v1/embeddings") -> None:
        """Send in a thread; the answer lands in ``results[name]``."""
        def call() -> None:
            self.results[name] = httpx.post(self.url + path, json=body, timeout=60)

        thread = threading.Thread(target=call)
        thread.start()
        self.threads.append(thread)

    def health(self) -> dict:
        return httpx.get(self.url + "/health").json()

    def wait_for(self, what: str, check) -> None:
        deadline = time.monotonic() + 10
        while not check(self.health()):
            assert time.monotonic() < deadline, f"never: {what} ({self.health()})"
            time.sleep(0.01)


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of the server's /metrics (0 when absent)."""
    text = httpx.get(url + "/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def raw_post(port: int, path: str, body: dict) -> socket.socket:
    """A request sent on a socket the test closes itself (a client that goes away)."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def test_a_client_that_disconnects_has_its_texts_dropped_before_they_run(tiny_models):
    with Gated(tiny_models["tiny-bert"]) as server:
        name = server.item.name
        server.post("held", {"input": "holds the batcher"})
        assert server.started.wait(10)
        gone = raw_post(server.live.port, "/v1/embeddings", {"input": ["a", "b", "c"]})
        server.wait_for("the 3 texts queued behind the run", lambda h: h["queued"][name] == 3 and h["in_flight"] == 2)
        assert metric(server.url, "flagcore_serve_queue_inputs", model=name) == 3
        gone.close()
        # withdrawn while the run that held the batcher still goes on: they cannot have run
        server.wait_for("the queue back to 0", lambda h: h["queued"][name] == 0 and h["in_flight"] == 1)
        assert metric(server.url, "flagcore_serve_queue_inputs", model=name) == 0
        assert server.runs == [1]
        server.gate.set()
        server.threads[0].join(timeout=30)
        assert server.results["held"].status_code == 200
        after = httpx.post(server.url + "/v1/embeddings", json={"input": "next"}, timeout=60)
        assert after.status_code == 200
        assert server.runs == [1, 1]  # the next request ran next: nothing of the gone one was left queued
        assert metric(server.url, "flagcore_serve_inputs_total", model=name) == 2
        assert metric(server.url, "flagcore_serve_requests_total", endpoint="/v1/embeddings", status="499") == 1
        assert server.health()["in_flight"] == 0
        assert not server.item.batcher._jobs


def test_a_request_that_times_out_leaves_the_queue_at_once(tiny_models):
    with Gated(tiny_models["tiny-bert"], request_timeout=1.0) as server:
        name = server.item.name
        server.post("held", {"input": "holds the batcher"})
        assert server.started.wait(10)
        late = httpx.post(server.url + "/v1/embeddings", json={"input": ["a", "b"]}, timeout=60)
        assert late.status_code == 504, late.text
        assert server.health()["queued"][name] == 0  # while the held run still goes on (its request timed out too)
        assert server.runs == [1]
        server.gate.set()
        server.threads[0].join(timeout=30)
        assert httpx.post(server.url + "/v1/embeddings", json={"input": "next"}, timeout=60).status_code == 200
        assert server.runs == [1, 1]  # the timed-out texts never ran


def test_max_concurrent_requests_refuses_one_more_with_429(tiny_models):
    with Gated(tiny_models["tiny-bert"], max_concurrent_requests=1) as server:
        server.post("held", {"input": "holds the batcher"})
        assert server.started.wait(10)
        refused = httpx.post(server.url + "/v1/embeddings", json={"input": "one too many"}, timeout=60)
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "overloaded"
        assert "--max-concurrent-requests" in error["message"]
        assert httpx.get(server.url + "/health").status_code == 200  # the probes are not counted
        assert httpx.get(server.url + "/metrics").status_code == 200
        server.gate.set()
        server.threads[0].join(timeout=30)
        assert server.results["held"].status_code == 200
        assert httpx.post(server.url + "/v1/embeddings", json={"input": "now"}, timeout=60).status_code == 200


def test_while_draining_requests_in_flight_finish_and_new_ones_get_503(tiny_models):
    with Gated(tiny_models["tiny-bert"]) as server:
        server.post("held", {"input": "holds the batcher"})
        assert server.started.wait(10)
        server.app.state.lifecycle.drain()
        health = httpx.get(server.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "draining"
        assert health.json()["in_flight"] == 1
        for path, body in (("/v1/embeddings", {"input": "new"}), ("/v1/rerank", {"query": "q", "documents": ["d"]})):
            refused = httpx.post(server.url + path, json=body, timeout=60)
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["type"] == "server_error" and error["code"] == "shutting_down"
            assert "shutting down" in error["message"]
            assert refused.headers["connection"] == "close"
        models = httpx.get(server.url + "/v1/models")
        assert models.status_code == 503 and models.json()["error"]["code"] == "shutting_down"
        for path, body in (("/embed", {"inputs": "new"}), ("/v2/embed", {"texts": ["new"]})):
            refused = httpx.post(server.url + path, json=body, timeout=60)  # TEI's and Cohere's shapes, as refused
            assert refused.status_code == 503 and "shutting down" in refused.text
        assert httpx.get(server.url + "/metrics").status_code == 200
        server.gate.set()
        server.threads[0].join(timeout=30)
        held = server.results["held"]
        assert held.status_code == 200 and len(held.json()["data"]) == 1
        assert held.headers["connection"] == "close"  # the client reconnects, to another replica
        assert server.health()["in_flight"] == 0


def test_a_stopped_batcher_answers_its_queued_requests_and_health_says_so(tiny_models):
    with Gated(tiny_models["tiny-bert"]) as server:
        name = server.item.name
        server.post("held", {"input": "holds the batcher"})
        assert server.started.wait(10)
        server.post("queued", {"input": ["x", "y"]})
        server.wait_for("2 texts queued", lambda h: h["queued"][name] == 2)
        stopper = threading.Thread(target=server.item.batcher.stop)  # joins the worker: waits for the gate
        stopper.start()
        server.threads[1].join(timeout=10)
        queued = server.results["queued"]
        assert queued.status_code == 503 and queued.json()["error"]["code"] == "shutting_down"
        health = httpx.get(server.url + "/health")
        assert health.status_code == 503
        assert health.json()["status"] == "stopped" and health.json()["stopped"] == [name]
        assert health.json()["queued"][name] == 0
        server.gate.set()
        stopper.join(timeout=30)
        server.threads[0].join(timeout=30)
        assert server.results["held"].status_code == 200  # the run in progress finished
        late = httpx.post(server.url + "/v1/embeddings", json={"input": "late"}, timeout=60)
        assert late.status_code == 503 and late.json()["error"]["code"] == "shutting_down"


# -- the options ----------------------------------------------------------------------------------------------------
def parse(*argv: str):
    from flagcore.cli import build_parser

    return build_parser().parse_args(["serve", "some-model", *argv])


def test_tei_names_of_the_limits_and_their_aliases():
    from flagcore_serve.cli import settings_from

    defaults = settings_from(parse())
    assert (defaults.max_inputs, defaults.max_body_bytes, defaults.max_concurrent_requests) == (2048, 8 << 20, 512)
    tei = settings_from(parse("--max-client-batch-size", "32", "--payload-limit", "2000000",
                              "--max-concurrent-requests", "7", "--max-batch-tokens", "16384"))
    assert (tei.max_inputs, tei.max_body_bytes, tei.max_concurrent_requests) == (32, 2_000_000, 7)
    assert parse("--max-batch-tokens", "16384").max_batch_tokens == 16384
    old = settings_from(parse("--max-inputs", "5", "--max-body-bytes", "1000"))
    assert (old.max_inputs, old.max_body_bytes) == (5, 1000)
    for option in ("--max-client-batch-size", "--payload-limit", "--max-concurrent-requests"):
        with pytest.raises(ValueError, match=re.escape(option)):
            settings_from(parse(option, "0"))


def test_the_help_lists_the_tei_names(capsys):
    with pytest.raises(SystemExit):
        parse("--help")
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--max-client-batch-size", "--max-inputs", "--payload-limit", "--max-body-bytes",
                   "--max-concurrent-requests", "--max-batch-tokens"):
        assert option in out


def test_the_limits_are_enforced_under_their_tei_names(tiny_models):
    from flagcore_serve import create_app, load_models
    from flagcore_serve.cli import settings_from

    settings = settings_from(parse("--max-client-batch-size", "2", "--payload-limit", "200"))
    models = load_models([str(tiny_models["tiny-bert"])], settings, devices="cpu")
    with LiveServer(create_app(models, settings)) as server:
        many = httpx.post(server.url + "/v1/embeddings", json={"input": ["a", "b", "c"]}, timeout=60)
        assert many.status_code == 400 and "limit is 2 per request" in many.json()["error"]["message"]
        large = httpx.post(server.url + "/v1/embeddings", json={"input": "x" * 300}, timeout=60)
        assert large.status_code == 413 and "200" in large.json()["error"]["message"]
        assert httpx.post(server.url + "/v1/embeddings", json={"input": ["a", "b"]}, timeout=60).status_code == 200


# -- a real `flagcore serve` process --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """``flagcore serve MODEL`` on 127.0.0.1; stderr goes to a file the test reads."""

    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.stderr = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flagcore", "serve", str(model), "--port", str(self.port), "--devices", "cpu"],
            stdout=subprocess.DEVNULL, stderr=self.stderr)

    def wait_ready(self) -> None:
        """Poll /health from the start: the port is closed until the models are warm, then the first answer is 200."""
        deadline = time.monotonic() + 120
        while True:
            try:
                first = httpx.get(self.url + "/health")
                break
            except httpx.TransportError:
                assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.02)
        err = self.log.read_text()
        assert first.status_code == 200 and first.json()["status"] == "ok", first.text
        assert "loaded and warmed up in" in err, err  # printed once load_models (warm-up included) returned
        assert f"listening on http://127.0.0.1:{self.port}" in err

    def embed(self, texts: list[str], timeout: float = 120) -> httpx.Response:
        return httpx.post(self.url + "/v1/embeddings", json={"input": texts}, timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.stderr.close()


@pytest.fixture
def serve_process(tiny_models, tmp_path):
    process = Process(tiny_models["minilm"], tmp_path / "serve.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.close()


def holding_size(process: Process, seconds: float = 6.0) -> int:
    """How many texts make a request that runs ~``seconds`` on this machine (measured, not guessed)."""
    start = time.monotonic()
    assert process.embed(HOLD_TEXTS * 4).status_code == 200
    per_text = (time.monotonic() - start) / (len(HOLD_TEXTS) * 4)
    return int(min(2000, max(64, seconds / per_text)))


def answer_in_thread(process: Process, texts: list[str], results: dict, name: str) -> threading.Thread:
    def call() -> None:
        try:
            results[name] = process.embed(texts)
        except httpx.TransportError as exc:
            results[name] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def wait_health(process: Process, check, what: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        health = httpx.get(process.url + "/health")
        if check(health):
            return health.json()
        assert time.monotonic() < deadline, f"never: {what} ({health.status_code} {health.text})"
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_drains_the_requests_in_flight_refuses_new_ones_and_exits_0(serve_process, tiny_models, sig):
    from flagcore import FlagAutoModel

    process = serve_process
    size = holding_size(process)
    requests = {"large": [HOLD_TEXTS[i % len(HOLD_TEXTS)] for i in range(size)],
                "small": HOLD_TEXTS[:3], "single": [HOLD_TEXTS[5]]}
    results: dict = {}
    threads = [answer_in_thread(process, requests["large"], results, "large")]
    wait_health(process, lambda h: h.json()["in_flight"] == 1, "the large request in flight")
    time.sleep(0.5)  # read and tokenized (a few ms): its run holds the batcher for seconds
    threads += [answer_in_thread(process, requests[name], results, name) for name in ("small", "single")]
    wait_health(process, lambda h: h.json()["in_flight"] == 3 and sum(h.json()["queued"].values()) == 4,
                "the small requests queued behind the large one's run")
    process.process.send_signal(sig)
    health = wait_health(process, lambda h: h.status_code == 503, "/health says draining")
    assert health["status"] == "draining" and health["in_flight"] >= 1
    refused = process.embed(["after the signal"], timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "shutting_down" and refused.headers["connection"] == "close"
    for thread in threads:
        thread.join(timeout=120)
    assert process.process.wait(timeout=60) == 0
    library = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    expected = dict(zip(HOLD_TEXTS, library.encode_corpus(HOLD_TEXTS), strict=True))
    for name, texts in requests.items():
        response = results[name]
        assert isinstance(response, httpx.Response) and response.status_code == 200, (name, response)
        got = np.array([d["embedding"] for d in response.json()["data"]])
        assert got.shape[0] == len(texts)
        assert np.abs(got - np.array([expected[t] for t in texts])).max() <= TOL
    err = process.log.read_text()
    assert "draining: " in err and "drained; stopping" in err
    with pytest.raises(httpx.ConnectError):  # once stopped, the port is closed
        httpx.get(process.url + "/health")


@pytest.mark.slow
def test_a_second_signal_stops_at_once(serve_process):
    process = serve_process
    size = holding_size(process, seconds=8.0)
    results: dict = {}
    thread = answer_in_thread(process, [HOLD_TEXTS[i % len(HOLD_TEXTS)] for i in range(size)], results, "large")
    wait_health(process, lambda h: h.json()["in_flight"] == 1, "the large request in flight")
    process.process.send_signal(signal.SIGINT)
    wait_health(process, lambda h: h.status_code == 503, "/health says draining")
    start = time.monotonic()
    process.process.send_signal(signal.SIGINT)
    assert process.process.wait(timeout=30) == 128 + signal.SIGINT
    assert time.monotonic() - start < 5  # not after the large request's run
    thread.join(timeout=30)
    assert isinstance(results["large"], httpx.TransportError)  # dropped, as asked
    assert "a second signal: stopping at once" in process.log.read_text()
