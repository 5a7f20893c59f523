"""Serving benchmark: the same HTTP load against flagcore-serve and infinity-emb on all-MiniLM-L6-v2 (CPU).

    python benchmarks/serve_bench.py --infinity /path/to/venv/bin/infinity_emb [--seconds 8]

Each server runs alone (started here, warmed up, stopped after). For each concurrency (1, 8, 32 clients, each sending
its next request when the previous one is answered) and request size (1 or 16 texts of the benchmark corpus, mixed
lengths), requests are sent for ``--seconds`` after a warm-up second: requests/s, embeddings/s, p50 and p99 latency.
The run (CPU, threads, load average before and after each server) goes to benchmarks/serve_results.jsonl, and the
table of the latest run into docs/serving.md. ``nox -s bench_serve`` sets it up (infinity in its own virtualenv).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "parity"))

from corpus import paragraphs  # noqa: E402
from run import cpu_name  # noqa: E402
from tiny_models import minilm_dir  # noqa: E402

CONCURRENCY = (1, 8, 32)
SIZES = (1, 16)
START, END = "<!-- serve-bench:start -->", "<!-- serve-bench:end -->"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Server:
    def __init__(self, name: str, command: list[str], port: int, path: str) -> None:
        self.name, self.command, self.port, self.path = name, command, port, path
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Server:
        import httpx

        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start: {self.process.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def load(url: str, bodies: list[bytes], clients: int, seconds: float, warmup: float) -> dict:
    import httpx

    latencies: list[float] = []
    counts = {"requests": 0, "texts": 0, "failures": 0}
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def client(k: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            i = k
            while True:
                body = bodies[i % len(bodies)]
                i += clients
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                response = await http.post(url, content=body, headers={"content-type": "application/json"})
                t1 = time.perf_counter()
                ok = response.status_code == 200
                n = len(response.json()["data"]) if ok else 0
                if t0 >= measure_from:
                    if not ok:
                        counts["failures"] += 1
                        continue
                    latencies.append(t1 - t0)
                    counts["requests"] += 1
                    counts["texts"] += n

    await asyncio.gather(*(client(k) for k in range(clients)))
    lat = np.array(latencies) * 1000
    return {"clients": clients, "requests_per_s": round(counts["requests"] / seconds, 2),
            "embeddings_per_s": round(counts["texts"] / seconds, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
            "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
            "requests": counts["requests"], "failures": counts["failures"]}


def bodies_for(texts: list[str], size: int, model: str, count: int = 64) -> list[bytes]:
    out = []
    for i in range(count):
        chunk = [texts[(i * size + j) % len(texts)] for j in range(size)]
        out.append(json.dumps({"input": chunk, "model": model}).encode())
    return out


def run_server(server: Server, texts: list[str], seconds: float, warmup: float) -> tuple[list[dict], np.ndarray]:
    import httpx

    with server:
        first = httpx.post(server.url + server.path, json={"input": texts[:4], "model": "minilm"}, timeout=120).json()
        reference = np.array([d["embedding"] for d in first["data"]])
        rows = []
        for size in SIZES:
            bodies = bodies_for(texts, size, "minilm")
            for clients in CONCURRENCY:
                before = loadavg()
                row = asyncio.run(load(server.url + server.path, bodies, clients, seconds, warmup))
                row.update(server=server.name, texts_per_request=size, load_before=before, load_after=loadavg())
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows, reference


def table(record: dict) -> str:
    by = {(r["server"], r["texts_per_request"], r["clients"]): r for r in record["rows"]}
    lines = ["| texts/request | clients | server | requests/s | embeddings/s | p50 ms | p99 ms | failures |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    verdicts = []
    for size in SIZES:
        for clients in CONCURRENCY:
            ours, theirs = by.get(("flagcore-serve", size, clients)), by.get(("infinity", size, clients))
            for r in (ours, theirs):
                if r is None:
                    continue
                lines.append(f"| {size} | {clients} | {r['server']} | {r['requests_per_s']} | {r['embeddings_per_s']}"
                             f" | {r['p50_ms']} | {r['p99_ms']} | {r['failures']} |")
            if ours and theirs:
                ratio = ours["embeddings_per_s"] / max(theirs["embeddings_per_s"], 1e-9)
                verdicts.append((size, clients, ratio, ours["p99_ms"] < theirs["p99_ms"]))
    m = record["machine"]
    text = [f"Run of {record['date']}: {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}, "
            f"{record['seconds']} s per cell after {record['warmup']} s of warm-up; load average "
            f"{record['load_start']} at the start (other jobs share this machine: the numbers move with them). "
            f"Max difference between the two servers' vectors: {record['max_vector_difference']:.2e}.", "",
            *lines, ""]
    if verdicts:
        text.append("| texts/request | clients | flagcore-serve / infinity embeddings/s | lower p99 |")
        text.append("|---:|---:|---:|---|")
        text += [f"| {s} | {c} | {ratio:.2f}× | {'yes' if low else 'no'} |" for s, c, ratio, low in verdicts]
        met_more = all(ratio > 1 for _, _, ratio, _ in verdicts)
        met_32 = all(ratio >= 1.5 for _, c, ratio, _ in verdicts if c == 32)
        met_p99 = all(low for *_, low in verdicts)
        text += ["", f"Target (more embeddings/s at every concurrency, ≥ 1.5× at 32 clients, lower p99): "
                     f"more embeddings/s everywhere: {'met' if met_more else 'NOT met'}; ≥ 1.5× at 32 clients: "
                     f"{'met' if met_32 else 'NOT met'}; lower p99 everywhere: {'met' if met_p99 else 'NOT met'}."]
    return "\n".join(text)


def write_docs(record: dict, page: Path) -> None:
    content = page.read_text(encoding="utf-8")
    if START not in content or END not in content:
        raise SystemExit(f"{page} has no {START} ... {END} block")
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{START}\n{table(record)}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infinity", help="the infinity_emb executable (its own virtualenv); none: flagcore only")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--results", type=Path, default=HERE / "serve_results.jsonl")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "serving.md")
    parser.add_argument("--serve-args", default="", help="extra arguments for flagcore serve")
    args = parser.parse_args()
    import torch

    minilm = str(minilm_dir())
    texts = paragraphs()
    record: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                "python": platform.python_version(), "torch": torch.__version__},
                    "seconds": args.seconds, "warmup": args.warmup, "load_start": loadavg(), "rows": []}
    port = free_port()
    ours = Server("flagcore-serve", [sys.executable, "-m", "flagcore", "serve", f"minilm={minilm}", "--port",
                                     str(port), "--devices", "cpu", *args.serve_args.split()], port, "/v1/embeddings")
    rows, ref_ours = run_server(ours, texts, args.seconds, args.warmup)
    record["rows"] += rows
    record["max_vector_difference"] = float("nan")
    if args.infinity:
        port = free_port()
        theirs = Server("infinity", [args.infinity, "v2", "--model-id", minilm, "--served-model-name", "minilm",
                                     "--engine", "torch", "--device", "cpu", "--port", str(port),
                                     "--log-level", "warning"], port, "/embeddings")
        rows, ref_theirs = run_server(theirs, texts, args.seconds, args.warmup)
        record["rows"] += rows
        record["max_vector_difference"] = float(np.abs(ref_ours - ref_theirs).max())
        version = subprocess.run([str(Path(args.infinity).parent / "python"), "-c",
                                  "import importlib.metadata as m; print(m.version('infinity_emb'))"],
                                 capture_output=True, text=True).stdout.strip()
        record["infinity_version"] = version
    record["load_end"] = loadavg()
    with args.results.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    write_docs(record, args.docs)
    print(table(record))


if __name__ == "__main__":
    main()
