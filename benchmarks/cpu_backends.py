"""CPU backends side by side: flagcore fp32 / bf16 / int8 / OpenVINO fp32 / OpenVINO bf16 against
sentence-transformers' torch, ONNX and OpenVINO backends (its own virtualenv), alternating in one run.

    python benchmarks/cpu_backends.py --st-python .nox/st-backends/bin/python [--rounds 3] [--passages 700]

all-MiniLM-L6-v2 (mean pooling, normalised), max length 512, 700 mixed-length paragraphs of Python's pydoc topics
(every third one). Each row runs in its own process: model built and warmed up untimed, then the passages encoded
once per round; a row's docs/s is the median over rounds. Quality against flagcore fp32: mean and minimum cosine of
the passage vectors, and the overlap of the top-10 passages of 50 queries. The CPU's flags (flagcore env) go into
the record, appended to benchmarks/cpu_backends.jsonl; docs/benchmarks.md shows the latest run (nox -s bench).
``worker`` is the per-row entry point (run under whichever interpreter has the row's library).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_LENGTH = 512
#: (row, library, backend, precision): flagcore rows run in this interpreter, sentence-transformers rows in theirs
ROWS = [
    ("flagcore fp32", "flagcore", "torch", "fp32"),
    ("flagcore use_bf16=True", "flagcore", "torch", "bf16"),
    ("flagcore quantize='int8'", "flagcore", "torch", "int8"),
    ("flagcore backend='openvino' fp32", "flagcore", "openvino", "fp32"),
    ("flagcore backend='openvino' use_bf16=True", "flagcore", "openvino", "bf16"),
    ("sentence-transformers torch", "sentence-transformers", "torch", "fp32"),
    ("sentence-transformers onnx", "sentence-transformers", "onnx", "fp32"),
    ("sentence-transformers openvino (its default: bf16 on a bf16 CPU)", "sentence-transformers", "openvino",
     "default"),
    ("sentence-transformers openvino, INFERENCE_PRECISION_HINT=f32", "sentence-transformers", "openvino", "fp32"),
]
REFERENCE = "flagcore fp32"
TARGETS = {"bf16_cpu_best_vs_st_best": 1.3, "min_cosine": 0.9999}


def texts(passages: int) -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(HERE))
    from corpus import pairs, paragraphs

    chosen = paragraphs()[::3][:passages]
    questions = sorted({q for q, _ in pairs(chosen[:1])})
    queries = questions + [p[:100] for p in chosen[::14]][: 50 - len(questions)]
    return queries, chosen


# -- one row, one process -----------------------------------------------------------------------------------------
def build(library: str, backend: str, precision: str, model_dir: str, prepared: str) -> tuple[object, object]:
    """(encode queries, encode passages) callables of the row's model."""
    if library == "flagcore":
        from flagcore import FlagAutoModel

        options = {"backend": backend, "use_bf16": precision == "bf16",
                   "quantize": "int8" if precision == "int8" else None}
        model = FlagAutoModel.from_finetuned(model_dir, devices="cpu", pooling_method="mean",
                                             query_max_length=MAX_LENGTH, passage_max_length=MAX_LENGTH, **options)
        return (lambda q: model.encode_queries(q, show_progress_bar=False),
                lambda p: model.encode_corpus(p, show_progress_bar=False))
    from sentence_transformers import SentenceTransformer

    kwargs = {}
    if backend == "openvino" and precision == "fp32":
        kwargs["model_kwargs"] = {"ov_config": {"INFERENCE_PRECISION_HINT": "f32"}}
    model = SentenceTransformer(prepared if backend != "torch" else model_dir, device="cpu", backend=backend,
                                **kwargs)
    model.max_seq_length = MAX_LENGTH

    def encode(batch: list[str]) -> object:
        return model.encode(batch, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    return encode, encode


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    _, library, backend, precision = next(row for row in ROWS if row[0] == args.row)
    queries, passages = texts(args.passages)
    encode_queries, encode_passages = build(library, backend, precision, args.model, args.prepared)
    encode_passages(passages[:16])  # warm-up (and OpenVINO's first compile)
    started = time.perf_counter()
    vectors = np.asarray(encode_passages(passages), dtype=np.float32)
    seconds = time.perf_counter() - started
    np.savez(args.out, passages=vectors, queries=np.asarray(encode_queries(queries), dtype=np.float32))
    print(json.dumps({"row": args.row, "seconds": seconds}))


def prepare_sentence_transformers(st_python: str, model_dir: str, folder: Path) -> None:
    """Export the ONNX and OpenVINO copies once (sentence-transformers converts on load, and keeps a saved copy)."""
    script = (
        "import sys; from sentence_transformers import SentenceTransformer\n"
        "src, dst = sys.argv[1], sys.argv[2]\n"
        "SentenceTransformer(src, device='cpu', backend='onnx').save_pretrained(dst)\n"
        "SentenceTransformer(src, device='cpu', backend='openvino').save_pretrained(dst)\n"
    )
    subprocess.run([st_python, "-c", script, model_dir, str(folder)], check=True, capture_output=True, text=True)


# -- the run ------------------------------------------------------------------------------------------------------
def quality(reference: dict, other: dict) -> dict[str, float]:
    import numpy as np

    cosine = (reference["passages"] * other["passages"]).sum(axis=1)
    top = [set(np.argsort(-(q @ reference["passages"].T))[:10]) for q in reference["queries"]]
    got = [set(np.argsort(-(q @ other["passages"].T))[:10]) for q in other["queries"]]
    overlap = sum(len(a & b) for a, b in zip(top, got, strict=True)) / (10 * len(top))
    return {"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min()), "top10_overlap": overlap}


def run(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT / "tests" / "parity"))
    from run import loadavg, rotated
    from tiny_models import minilm_dir

    from flagcore.cli.inspect_commands import environment_report

    model_dir = str(minilm_dir())
    pythons = {"flagcore": sys.executable, "sentence-transformers": args.st_python}
    st_version = subprocess.run([args.st_python, "-c", "import sentence_transformers as s, openvino, onnxruntime; "
                                 "print(s.__version__, openvino.__version__, onnxruntime.__version__)"],
                                capture_output=True, text=True, check=True).stdout.split()
    rows = [row for row in ROWS if not args.rows or row[0] in args.rows]
    seconds: dict[str, list[float]] = {row[0]: [] for row in rows}
    outputs: dict[str, dict] = {}
    loads = [loadavg()]
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "st-prepared"
        prepare_sentence_transformers(args.st_python, model_dir, prepared)
        os.environ.setdefault("FLAGCORE_CACHE_DIR", str(Path(scratch) / "flagcore-cache"))
        for round_index in range(args.rounds):
            for name, library, _, _ in rotated(rows, round_index):
                out = Path(scratch) / f"{len(outputs)}-{round_index}.npz"
                done = subprocess.run(
                    [pythons[library], __file__, "worker", name, model_dir, str(out), "--threads", str(args.threads),
                     "--passages", str(args.passages), "--prepared", str(prepared)],
                    capture_output=True, text=True)
                if done.returncode:
                    raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
                seconds[name].append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
                if name not in outputs:
                    import numpy as np

                    outputs[name] = dict(np.load(out))
                print(f"round {round_index + 1} {name}: {seconds[name][-1]:.2f} s", flush=True)
            loads.append(loadavg())
    _, passages = texts(args.passages)
    results = {}
    for name, _, _, _ in rows:
        median = statistics.median(seconds[name])
        results[name] = {"docs_per_s": len(passages) / median, "seconds": seconds[name],
                         **(quality(outputs[REFERENCE], outputs[name]) if REFERENCE in outputs else {})}
    report = environment_report()
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": report,
            "threads": args.threads, "rounds": args.rounds, "passages": len(passages), "max_length": MAX_LENGTH,
            "sentence_transformers": {"version": st_version[0], "openvino": st_version[1],
                                      "onnxruntime": st_version[2]},
            "loadavg": loads, "rows": results, "targets": verdicts(results, bool(report["native_bf16"]))}


def verdicts(results: dict, native_bf16: bool) -> dict:
    """The issue's targets, met or not, from one run's rows."""
    flagcore = {n: r for n, r in results.items() if n.startswith("flagcore")}
    st = {n: r for n, r in results.items() if n.startswith("sentence-transformers")}
    if not flagcore or not st:
        return {}
    good = {n: r for n, r in flagcore.items() if r.get("cosine_min", 1.0) >= TARGETS["min_cosine"]}
    best_fc = max(good, key=lambda n: good[n]["docs_per_s"])
    best_st = max(st, key=lambda n: st[n]["docs_per_s"])
    ratio = good[best_fc]["docs_per_s"] / st[best_st]["docs_per_s"]
    fp32_st = {n: r for n, r in st.items() if "default" not in n}
    fp32_ratio = results[REFERENCE]["docs_per_s"] / max(r["docs_per_s"] for r in fp32_st.values()) if fp32_st else None
    return {"native_bf16": native_bf16, "best_flagcore_at_min_cosine": best_fc, "best_sentence_transformers": best_st,
            "ratio": ratio, "target_ratio": TARGETS["bf16_cpu_best_vs_st_best"],
            "met": ratio >= TARGETS["bf16_cpu_best_vs_st_best"] if native_bf16 else None,
            "flagcore_fp32_vs_best_st_fp32": fp32_ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker")
    w.add_argument("row")
    w.add_argument("model")
    w.add_argument("out")
    w.add_argument("--threads", type=int, required=True)
    w.add_argument("--passages", type=int, required=True)
    w.add_argument("--prepared", required=True)
    parser.add_argument("--st-python", help="python of the sentence-transformers[onnx,openvino] virtualenv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--passages", type=int, default=700)
    parser.add_argument("--rows", nargs="*", help="only these rows (names as in ROWS)")
    parser.add_argument("--results", type=Path, default=HERE / "cpu_backends.jsonl")
    args = parser.parse_args()
    if args.command == "worker":
        return worker(args)
    if not args.st_python:
        parser.error("--st-python is needed (nox -s bench passes it)")
    record = run(args)
    with open(args.results, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    if args.results == HERE / "cpu_backends.jsonl":
        from report import write_report
        from run import LLM_TARGETS
        from run import TARGETS as MINILM_TARGETS

        write_report(HERE / "results.jsonl", ROOT / "docs" / "benchmarks.md", MINILM_TARGETS, LLM_TARGETS)
    print(json.dumps({name: {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items() if k != "seconds"}
                      for name, row in record["rows"].items()}, indent=1))
    print(json.dumps(record["targets"], indent=1))


if __name__ == "__main__":
    main()
