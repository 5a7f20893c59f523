"""Serving benchmark: the same HTTP load against flagcore-serve and infinity-emb on all-MiniLM-L6-v2 (CPU), and the
library's own ``encode_corpus`` on the same texts.

    python benchmarks/serve_bench.py --infinity /path/to/venv/bin/infinity_emb [--seconds 30]

First the library alone, in a subprocess with the same torch thread count as the servers: ``encode_corpus`` over the
benchmark texts (the first 1024 paragraphs of the corpus, mixed lengths; every cell of the load cycles through the
same 1024 texts), pass after pass for ``--seconds`` after a warm-up pass of 64 texts: docs/s. Then each server
alone (started here, warmed up, stopped after). For each concurrency (1, 8, 32 clients, each sending its next request
when the previous one is answered) and request size (1 or 16 texts), requests are sent for ``--seconds`` after a
warm-up of ``--warmup`` seconds: requests/s, embeddings/s, p50 and p99 latency; the CPU seconds of the server
process (flagcore-serve: its event-loop thread apart from the others) and of the load generator (this process);
for flagcore-serve its own /metrics over the cell (merged runs, rows per run, model-run seconds, server-side request
seconds). A last, unmeasured 1-text cell samples flagcore-serve with py-spy when it is installed (where its Python
threads spend their time). The run (CPU, cores, threads, load average before and after each cell) goes to
benchmarks/serve_results.jsonl, and the tables of the latest run into docs/serving.md (targets: flagcore-serve
≥ 1.5× infinity's embeddings/s in every cell; ≥ 70 % of the library's docs/s at 8 clients; met or not).
``nox -s bench_serve`` sets it up (infinity in its own virtualenv).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
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
#: the texts of every cell (the 1-text load sends them one by one, the 16-text load 16 at a time) and of the library
TEXT_COUNT = 1024
START, END = "<!-- serve-bench:start -->", "<!-- serve-bench:end -->"
TARGET_VS_INFINITY = 1.5
TARGET_VS_LIBRARY = 0.70
LIBRARY_CLIENTS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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

    def cpu(self) -> dict[str, float]:
        """CPU seconds of the server so far: all its threads (and child processes), and its main thread alone (the
        event loop, for uvicorn)."""
        import psutil

        proc = psutil.Process(self.process.pid)
        procs = [proc, *proc.children(recursive=True)]
        total = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        main = next((t.user_time + t.system_time for t in proc.threads() if t.id == proc.pid), 0.0)
        return {"total": total, "main_thread": main}

    def metrics(self) -> dict[str, float]:
        """flagcore-serve's /metrics as {sample name with labels: value}; {} for a server without them."""
        import httpx

        if self.name != "flagcore-serve":
            return {}
        out = {}
        for line in httpx.get(self.url + "/metrics", timeout=10).text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


async def load(url: str, bodies: list[bytes], clients: int, seconds: float, warmup: float) -> dict:
    import httpx

    latencies: list[float] = []
    counts = {"requests": 0, "texts": 0, "failures": 0, "sent": 0}
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
                counts["sent"] += 1
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
            "mean_ms": round(float(lat.mean()), 1) if len(lat) else None,
            "requests": counts["requests"], "failures": counts["failures"], "sent": counts["sent"]}


def bodies_for(texts: list[str], size: int, model: str) -> list[bytes]:
    """The request bodies of one request size: ``texts`` in order, ``size`` at a time (every text once)."""
    return [json.dumps({"input": texts[i:i + size], "model": model}).encode() for i in range(0, len(texts), size)]


def cell_profile(server: Server, before: dict, after: dict, row: dict, wall: float, load_cpu: float) -> dict:
    """Where a cell's time went: the server's CPU (event loop apart), the load generator's CPU, and for
    flagcore-serve its /metrics over the cell (merged runs, rows per run, model-run time, server-side latency)."""
    sent = max(row.pop("sent"), 1)  # every request of the cell, its warm-up included
    cpu = {k: after["cpu"][k] - before["cpu"][k] for k in after["cpu"]}
    out = {"wall_s": round(wall, 2), "server_cpu_cores": round(cpu["total"] / wall, 2),
           "server_main_thread_cpu_cores": round(cpu["main_thread"] / wall, 2),
           "load_generator_cpu_cores": round(load_cpu / wall, 2),
           "load_generator_cpu_ms_per_request": round(1000 * load_cpu / sent, 2)}
    m0, m1 = before["metrics"], after["metrics"]
    if m1:
        def delta(name: str) -> float:
            return m1.get(name, 0.0) - m0.get(name, 0.0)

        model, endpoint = '{model="minilm"}', '{endpoint="/v1/embeddings"}'
        runs = delta(f"flagcore_serve_batch_seconds_count{model}")
        rows = delta(f"flagcore_serve_batch_inputs_sum{model}")
        run_s = delta(f"flagcore_serve_batch_seconds_sum{model}")
        n_req = delta(f"flagcore_serve_request_seconds_count{endpoint}")
        req_s = delta(f"flagcore_serve_request_seconds_sum{endpoint}")
        out.update(runs=int(runs), rows_per_run=round(rows / max(runs, 1), 2),
                   run_ms=round(1000 * run_s / max(runs, 1), 1), model_busy=round(run_s / wall, 3),
                   server_request_ms=round(1000 * req_s / max(n_req, 1), 1),
                   event_loop_cpu_ms_per_request=round(1000 * cpu["main_thread"] / max(n_req, 1), 2))
    return out


def measure_cell(server: Server, bodies: list[bytes], clients: int, seconds: float, warmup: float) -> dict:
    before = {"cpu": server.cpu(), "metrics": server.metrics(), "load": loadavg()}
    cpu0, t0 = own_cpu(), time.perf_counter()
    row = asyncio.run(load(server.url + server.path, bodies, clients, seconds, warmup))
    wall, load_cpu = time.perf_counter() - t0, own_cpu() - cpu0
    after = {"cpu": server.cpu(), "metrics": server.metrics()}
    row.update(server=server.name, seconds=seconds, load_before=before["load"], load_after=loadavg())
    row["profile"] = cell_profile(server, before, after, row, wall, load_cpu)
    return row


def run_server(server: Server, texts: list[str], seconds: float, warmup: float, profile_seconds: float = 0.0,
               sizes: tuple[int, ...] = SIZES, concurrency: tuple[int, ...] = CONCURRENCY
               ) -> tuple[list[dict], np.ndarray, dict | None]:
    import httpx

    with server:
        first = httpx.post(server.url + server.path, json={"input": texts[:4], "model": "minilm"}, timeout=120).json()
        reference = np.array([d["embedding"] for d in first["data"]])
        rows = []
        for size in sizes:
            bodies = bodies_for(texts, size, "minilm")
            for clients in concurrency:
                row = measure_cell(server, bodies, clients, seconds, warmup)
                row["texts_per_request"] = size
                print(json.dumps(row), flush=True)
                rows.append(row)
        sampled = None
        if profile_seconds:
            sampled = sample_with_py_spy(server, bodies_for(texts, 1, "minilm"), profile_seconds)
    return rows, reference, sampled


# -- py-spy: where the server's Python threads spend their time (an extra, unmeasured cell) --------------------------
#: (category, substrings of a sampled stack, any of which puts the sample in it); the first that matches wins
CATEGORIES = (
    ("model run (batcher thread: join, forward, split)", ("_execute (flagcore_serve/batching.py",)),
    ("tokenization (tokenizer thread)", ("prepare (flagcore_serve/models.py",)),
    ("batcher waiting / queueing", ("_take (flagcore_serve/batching.py", "submit (flagcore_serve/batching.py")),
    ("JSON response: tolist + encoding", ("render (", "json_response (", "tolist")),
    ("request body: JSON parsing + validation", ("parse_body (", "validation.py")),
    ("HTTP protocol (uvicorn)", ("h11_impl.py", "httptools_impl.py", "/h11/")),
    ("metrics + admission middleware", ("flagcore_serve/metrics.py", "flagcore_serve/handlers.py")),
    ("FastAPI/Starlette routing + dependencies", ("fastapi/", "starlette/")),
    ("other event-loop work", ("asyncio/",)),
)
#: leaf frames of a thread that waits (py-spy does not always see these as idle): a lock or condition (the batcher
#: thread between runs, the tokenizer thread between requests) or the event loop's poll (uvloop's, inside run())
WAITS = ("Condition.wait (threading.py", "_worker (concurrent/futures/thread.py", "Runner.run (asyncio/runners.py",
         "select (selectors.py", "Event.wait (threading.py")
PROFILE_CLIENTS = 32


def sample_with_py_spy(server: Server, bodies: list[bytes], seconds: float) -> dict | None:
    """Sample flagcore-serve's threads with py-spy (100 Hz, not pausing it) under a 1-text load of
    ``PROFILE_CLIENTS`` clients: the share of samples per category of :data:`CATEGORIES` and the top functions."""
    spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if spy is None or server.name != "flagcore-serve":
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        spy_process = subprocess.Popen([spy, "record", "--pid", str(server.process.pid), "--rate", "100",
                                        "--duration", str(int(seconds)), "--nonblocking", "--format", "raw",
                                        "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        asyncio.run(load(server.url + server.path, bodies, PROFILE_CLIENTS, seconds, 0.0))
        _, err = spy_process.communicate(timeout=60)
        if not out.exists():
            return {"error": err.decode()[-500:]}
        return summarize_stacks(out.read_text())


def summarize_stacks(collapsed: str) -> dict:
    by_category: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        if leaf.startswith(WAITS):
            by_category["waiting (lock, condition, event-loop poll)"] += n
            continue
        category = next((name for name, keys in CATEGORIES if any(k in stack for k in keys)), "other")
        by_category[category] += n
        leaves[leaf] += n
    share = {name: round(n / max(total, 1), 3) for name, n in by_category.most_common()}
    top = [[leaf, round(n / max(total, 1), 3)] for leaf, n in leaves.most_common(12)]  # waits left out
    return {"clients": PROFILE_CLIENTS, "texts_per_request": 1, "samples": total, "categories": share,
            "top_functions": top}


# -- the library alone ------------------------------------------------------------------------------------------
def library_child(minilm: str, seconds: float) -> None:
    """(In the subprocess) ``encode_corpus`` over the benchmark texts, pass after pass for ``seconds``."""
    import torch

    from flagcore import FlagAutoModel

    texts = paragraphs()[:TEXT_COUNT]
    model = FlagAutoModel.from_finetuned(minilm, devices="cpu")
    model.encode_corpus(texts[:64], show_progress_bar=False)
    cpu0, start, passes = own_cpu(), time.perf_counter(), 0
    while passes == 0 or time.perf_counter() - start < seconds:
        model.encode_corpus(texts, show_progress_bar=False)
        passes += 1
    wall = time.perf_counter() - start
    print(json.dumps({"docs_per_s": round(passes * len(texts) / wall, 1), "texts": len(texts), "passes": passes,
                      "seconds": round(wall, 2), "cpu_cores": round((own_cpu() - cpu0) / wall, 2),
                      "torch_threads": torch.get_num_threads()}))


def library_throughput(minilm: str, seconds: float) -> dict:
    before = loadavg()
    done = subprocess.run([sys.executable, __file__, "--library-child", minilm, "--seconds", str(seconds)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"the library run failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(load_before=before, load_after=loadavg())
    print(json.dumps({"library": result}), flush=True)
    return result


# -- the report -------------------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def header(record: dict) -> list[str]:
    m, lib = record["machine"], record.get("library")
    text = [f"Run of {record['date']}: {m['cpu']}, {m['cores']} cores, torch's default of {m['torch_threads']} "
            f"threads (the library and both servers), Python {m['python']}, torch {m['torch']}; "
            f"{record['seconds']:g} s per cell after {record['warmup']:g} s of warm-up; load average "
            f"{record['load_start']} at the start, {record.get('load_end')} at the end (1, 5, 15 min). Every cell "
            f"cycles through the same {TEXT_COUNT} texts. Max difference between the two servers' vectors: "
            f"{record['max_vector_difference']:.2e}."]
    if record.get("infinity_version"):
        text[0] += f" infinity-emb {record['infinity_version']}."
    if lib:
        text += ["", f"The library alone (`encode_corpus`, a subprocess before the servers, torch threads "
                     f"{lib['torch_threads']}): the {lib['texts']} texts in one call, {lib['passes']} passes in "
                     f"{lib['seconds']:g} s: **{lib['docs_per_s']} docs/s** (CPU {lib['cpu_cores']} cores; load "
                     f"average {lib['load_before']} → {lib['load_after']}). It is the reference for both request "
                     f"sizes: the same texts, embedded as the library batches them (by length, under its token "
                     f"budget)."]
    return text


def results_table(by: dict) -> list[str]:
    lines = ["| texts/request | clients | server | requests/s | embeddings/s | p50 ms | p99 ms | failures "
             "| server CPU (cores) | load generator CPU (cores) |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in SIZES:
        for clients in CONCURRENCY:
            for name in ("flagcore-serve", "infinity"):
                r = by.get((name, size, clients))
                if r is None:
                    continue
                p = r.get("profile", {})
                lines.append(f"| {size} | {clients} | {name} | {r['requests_per_s']} | {r['embeddings_per_s']} "
                             f"| {r['p50_ms']} | {r['p99_ms']} | {r['failures']} | {p.get('server_cpu_cores')} "
                             f"| {p.get('load_generator_cpu_cores')} |")
    return lines


def targets_table(by: dict, library: float | None) -> list[str]:
    lines = ["| texts/request | clients | flagcore-serve / infinity | ≥ 1.5× | flagcore-serve / library "
             "| ≥ 70 % (8 clients) | lower p99 than infinity |", "|---:|---:|---:|---|---:|---|---|"]
    vs_infinity, vs_library = [], []
    for size in SIZES:
        for clients in CONCURRENCY:
            ours, theirs = by.get(("flagcore-serve", size, clients)), by.get(("infinity", size, clients))
            if ours is None:
                continue
            cells = ["—", "—", "—", "—", "—"]
            if theirs:
                ratio = ours["embeddings_per_s"] / max(theirs["embeddings_per_s"], 1e-9)
                vs_infinity.append(ratio >= TARGET_VS_INFINITY)
                cells[0:2] = [f"{ratio:.2f}×", verdict(ratio >= TARGET_VS_INFINITY)]
                cells[4] = "yes" if ours["p99_ms"] < theirs["p99_ms"] else "no"
            if library:
                share = ours["embeddings_per_s"] / library
                cells[2] = f"{100 * share:.0f} %"
                if clients == LIBRARY_CLIENTS:
                    vs_library.append(share >= TARGET_VS_LIBRARY)
                    cells[3] = verdict(share >= TARGET_VS_LIBRARY)
            lines.append(f"| {size} | {clients} | " + " | ".join(cells) + " |")
    summary = []
    if vs_infinity:
        summary.append(f"≥ 1.5× infinity's embeddings/s in every cell: **{verdict(all(vs_infinity))}** "
                       f"({sum(vs_infinity)} of {len(vs_infinity)} cells)")
    if vs_library:
        summary.append(f"≥ 70 % of the library's docs/s at {LIBRARY_CLIENTS} clients: "
                       f"**{verdict(all(vs_library))}** ({sum(vs_library)} of {len(vs_library)} request sizes)")
    return [*lines, "", "Targets: " + "; ".join(summary) + "."] if summary else lines


def profile_table(by: dict) -> list[str]:
    lines = ["flagcore-serve's own /metrics and CPU over each cell (warm-up included): merged runs, rows per run, "
             "mean model-run time, the share of the cell's wall time the model ran, the mean request time inside the "
             "server (body read to response) against the client's, CPU per request of the event-loop thread and of "
             "the load generator:", "",
             "| texts/request | clients | runs | rows/run | run ms | model busy | server request ms | client ms "
             "| event loop CPU ms/request | event loop (cores) | load generator CPU ms/request |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in SIZES:
        for clients in CONCURRENCY:
            r = by.get(("flagcore-serve", size, clients))
            if r is None or "runs" not in r.get("profile", {}):
                continue
            p = r["profile"]
            lines.append(f"| {size} | {clients} | {p['runs']} | {p['rows_per_run']} | {p['run_ms']} "
                         f"| {100 * p['model_busy']:.0f} % | {p['server_request_ms']} | {r['mean_ms']} "
                         f"| {p['event_loop_cpu_ms_per_request']} | {p['server_main_thread_cpu_cores']} "
                         f"| {p['load_generator_cpu_ms_per_request']} |")
    return lines


def spy_lines(sampled: dict | None) -> list[str]:
    if not sampled or "categories" not in sampled:
        return ["", f"py-spy: {sampled['error'] if sampled else 'not installed or not run'}."]
    cats = "; ".join(f"{name} {100 * share:.0f} %" for name, share in sampled["categories"].items())
    top = "; ".join(f"`{leaf}` {100 * share:.0f} %" for leaf, share in sampled["top_functions"][:6])
    return ["", f"py-spy (100 Hz, {sampled['samples']} samples of the server's Python threads that py-spy saw "
                f"active, 1-text requests from {sampled['clients']} clients, an extra cell not in the tables): {cats}. "
                f"Top functions (self, waits left out): {top}."]


def table(record: dict) -> str:
    by = {(r["server"], r["texts_per_request"], r["clients"]): r for r in record["rows"]}
    library = (record.get("library") or {}).get("docs_per_s")
    text = [*header(record), "", *results_table(by), "", *targets_table(by, library), "", *profile_table(by),
            *spy_lines(record.get("py_spy"))]
    return "\n".join(text)


def write_docs(record: dict, page: Path) -> None:
    content = page.read_text(encoding="utf-8")
    if START not in content or END not in content:
        raise SystemExit(f"{page} has no {START} ... {END} block")
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{START}\n{table(record)}\n{END}{tail}", encoding="utf-8")


def infinity_server(executable: str, minilm: str) -> Server:
    port = free_port()
    return Server("infinity", [executable, "v2", "--model-id", minilm, "--served-model-name", "minilm",
                               "--engine", "torch", "--device", "cpu", "--port", str(port), "--log-level", "warning"],
                  port, "/embeddings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infinity", help="the infinity_emb executable (its own virtualenv); none: flagcore only")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--profile-seconds", type=float, default=15.0, help="the py-spy cell (0: none)")
    parser.add_argument("--no-library", action="store_true", help="skip the library's own run")
    parser.add_argument("--results", type=Path, default=HERE / "serve_results.jsonl")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "serving.md")
    parser.add_argument("--serve-args", default="", help="extra arguments for flagcore serve")
    parser.add_argument("--sizes", default="1,16", help="texts per request, comma-separated (a partial run)")
    parser.add_argument("--clients", default="1,8,32", help="concurrencies, comma-separated (a partial run)")
    parser.add_argument("--library-child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library_child:
        library_child(args.library_child, args.seconds)
        return
    import torch

    minilm = str(minilm_dir())
    texts = paragraphs()[:TEXT_COUNT]
    record: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                "python": platform.python_version(), "torch": torch.__version__},
                    "seconds": args.seconds, "warmup": args.warmup, "load_start": loadavg(), "texts": len(texts),
                    "serve_args": args.serve_args, "rows": []}
    if not args.no_library:
        record["library"] = library_throughput(minilm, args.seconds)
    port = free_port()
    ours = Server("flagcore-serve", [sys.executable, "-m", "flagcore", "serve", f"minilm={minilm}", "--port",
                                     str(port), "--devices", "cpu", *args.serve_args.split()], port, "/v1/embeddings")
    cells = {"sizes": tuple(int(x) for x in args.sizes.split(",")),
             "concurrency": tuple(int(x) for x in args.clients.split(","))}
    rows, ref_ours, record["py_spy"] = run_server(ours, texts, args.seconds, args.warmup, args.profile_seconds,
                                                  **cells)
    record["rows"] += rows
    record["max_vector_difference"] = float("nan")
    if args.infinity:
        rows, ref_theirs, _ = run_server(infinity_server(args.infinity, minilm), texts, args.seconds, args.warmup,
                                         **cells)
        record["rows"] += rows
        record["max_vector_difference"] = float(np.abs(ref_ours - ref_theirs).max())
        record["infinity_version"] = subprocess.run(
            [str(Path(args.infinity).parent / "python"), "-c",
             "import importlib.metadata as m; print(m.version('infinity_emb'))"],
            capture_output=True, text=True).stdout.strip()
    record["load_end"] = loadavg()
    with args.results.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    write_docs(record, args.docs)
    print(table(record))


if __name__ == "__main__":
    main()
