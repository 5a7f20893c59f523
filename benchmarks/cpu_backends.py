"""CPU backends side by side: flagcore fp32 / bf16 / int8 / OpenVINO fp32 / OpenVINO bf16 against its peers, each
in its own virtualenv: sentence-transformers' torch, ONNX and OpenVINO backends and its two int8 exports, fastembed
(ONNX Runtime; one process, and data-parallel) and infinity-emb's ONNX engine; alternating in one run.

    python benchmarks/cpu_backends.py --st-python .nox/st-backends/bin/python \\
        [--fastembed-python .nox/fastembed-0.9.1/bin/python] \\
        [--infinity-python .nox/infinity-emb-0.0.78-onnx/bin/python] \\
        [--rounds 3] [--passages 700] [--results benchmarks/cpu_backends.jsonl]

all-MiniLM-L6-v2 (mean pooling, normalised), max length 512, 700 mixed-length paragraphs of Python's pydoc topics
(every third one). Each row runs in its own process: model built and warmed up untimed, then the passages encoded
once per round; a row's docs/s is the median over rounds. Quality against flagcore fp32: mean and minimum cosine of
the passage vectors, and the overlap of the top-10 passages of 50 queries. Each round also times the GEMM-only
ceilings (benchmarks/gemm_ceiling.py: docs/s if only the linear layers' GEMMs ran, fp32 / bf16 / int8); once per
run, the bge-sized shapes and an operator profile of flagcore's fp32 encode (benchmarks/fp32_profile.py). Then the
Pareto table: per quality band, each system's fastest row. The CPU's flags (flagcore env) go into the record,
appended to --results; docs/benchmarks.md shows the latest run of benchmarks/cpu_backends.jsonl (nox -s bench).
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
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_LENGTH = 512


class Row(NamedTuple):
    name: str
    library: str  # the system: its interpreter runs the row, and the Pareto table groups by it
    backend: str
    precision: str  # fp32 / bf16 / int8: the GEMM-only ceiling a flagcore row is measured against
    options: dict = {}  # flagcore: from_finetuned's keywords; the peers: see benchmarks/cpu_peers.py


ST_OV_F32 = {"ov_config": {"INFERENCE_PRECISION_HINT": "f32"}}
#: one line per row; a new flagcore path is one more Row with its from_finetuned options
ROWS = [
    Row("flagcore fp32", "flagcore", "torch", "fp32"),
    Row("flagcore use_bf16=True", "flagcore", "torch", "bf16", {"use_bf16": True}),
    Row("flagcore quantize='int8'", "flagcore", "torch", "int8", {"quantize": "int8"}),
    Row("flagcore quantize='int8-per-token'", "flagcore", "torch", "int8", {"quantize": "int8-per-token"}),
    Row("flagcore backend='openvino' fp32", "flagcore", "openvino", "fp32", {"backend": "openvino"}),
    Row("flagcore backend='openvino' use_bf16=True", "flagcore", "openvino", "bf16",
        {"backend": "openvino", "use_bf16": True}),
    Row("sentence-transformers torch", "sentence-transformers", "torch", "fp32"),
    Row("sentence-transformers onnx", "sentence-transformers", "onnx", "fp32"),
    Row("sentence-transformers openvino (its default: bf16 on a bf16 CPU)", "sentence-transformers", "openvino",
        "bf16"),
    Row("sentence-transformers openvino, INFERENCE_PRECISION_HINT=f32", "sentence-transformers", "openvino", "fp32",
        ST_OV_F32),
    Row("sentence-transformers onnx int8 (export_dynamic_quantized_onnx_model, avx512_vnni)", "sentence-transformers",
        "onnx", "int8", {"file_name": "onnx/model_qint8_avx512_vnni.onnx"}),
    Row("sentence-transformers openvino int8 (export_static_quantized_openvino_model)", "sentence-transformers",
        "openvino", "int8", {"file_name": "openvino/openvino_model_qint8_quantized.xml"}),
    Row("fastembed", "fastembed", "onnx", "fp32"),
    Row("fastembed batch_size=32", "fastembed", "onnx", "fp32", {"batch_size": 32}),
    Row("fastembed parallel=2, batch_size=32", "fastembed", "onnx", "fp32", {"parallel": 2, "batch_size": 32}),
    Row("infinity-emb optimum (ONNX)", "infinity-emb", "onnx", "fp32"),
]
REFERENCE = "flagcore fp32"
SYSTEMS = ("flagcore", "sentence-transformers", "fastembed", "infinity-emb")
BANDS = (0.9999, 0.999, 0.99)  # minimum cosine to flagcore fp32
TARGETS = {"bf16_cpu_best_vs_st_best": 1.3, "min_cosine": 0.9999, "ceiling_fraction": 0.8,
           "pareto_vs_best_peer": 1.3}


def texts(passages: int) -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(HERE))
    from corpus import pairs, paragraphs

    chosen = paragraphs()[::3][:passages]
    questions = sorted({q for q, _ in pairs(chosen[:1])})
    queries = questions + [p[:100] for p in chosen[::14]][: 50 - len(questions)]
    return queries, chosen


def calibration_texts() -> list[str]:
    """Local calibration texts for the static int8 export: corpus paragraphs the benchmark does not encode."""
    sys.path.insert(0, str(HERE))
    from corpus import paragraphs

    return paragraphs()[1::3]


# -- one row, one process -----------------------------------------------------------------------------------------
def build(row: Row, model_dir: str, prepared: str, threads: int) -> tuple[object, object]:
    """(encode queries, encode passages) callables of the row's model."""
    sys.path.insert(0, str(HERE))
    import cpu_peers

    if row.library == "flagcore":
        from flagcore import FlagAutoModel

        model = FlagAutoModel.from_finetuned(model_dir, devices="cpu", pooling_method="mean",
                                             query_max_length=MAX_LENGTH, passage_max_length=MAX_LENGTH,
                                             **row.options)
        return (lambda q: model.encode_queries(q, show_progress_bar=False),
                lambda p: model.encode_corpus(p, show_progress_bar=False))
    if row.library == "sentence-transformers":
        encode = cpu_peers.build_sentence_transformers(row.backend, row.options, model_dir, prepared, MAX_LENGTH)
    elif row.library == "fastembed":
        encode = cpu_peers.build_fastembed(row.options, prepared, threads)
    else:
        encode = cpu_peers.build_infinity(prepared)
    return encode, encode


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    try:
        import torch
    except ImportError:  # fastembed's virtualenv: ONNX Runtime only (its sessions get the thread count)
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)
    row = next(row for row in ROWS if row.name == args.row)
    queries, passages = texts(args.passages)
    encode_queries, encode_passages = build(row, args.model, args.prepared, args.threads)
    encode_passages(passages[:16])  # warm-up (and OpenVINO's first compile)
    started = time.perf_counter()
    vectors = np.asarray(encode_passages(passages), dtype=np.float32)
    seconds = time.perf_counter() - started
    np.savez(args.out, passages=vectors, queries=np.asarray(encode_queries(queries), dtype=np.float32))
    print(json.dumps({"row": args.row, "seconds": seconds}))


# -- the run ------------------------------------------------------------------------------------------------------
def quality(reference: dict, other: dict) -> dict[str, float]:
    import numpy as np

    cosine = (reference["passages"] * other["passages"]).sum(axis=1)
    top = [set(np.argsort(-(q @ reference["passages"].T))[:10]) for q in reference["queries"]]
    got = [set(np.argsort(-(q @ other["passages"].T))[:10]) for q in other["queries"]]
    overlap = sum(len(a & b) for a, b in zip(top, got, strict=True)) / (10 * len(top))
    return {"cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min()), "top10_overlap": overlap}


#: each system's distributions whose versions go into the record (the first is the system's own)
VERSIONS = {
    "sentence-transformers": ("sentence-transformers", "openvino", "onnxruntime", "optimum-intel", "transformers"),
    "fastembed": ("fastembed", "onnxruntime"),
    "infinity-emb": ("infinity-emb", "onnxruntime", "optimum", "transformers"),
}


def peer_versions(pythons: dict[str, str]) -> dict[str, dict[str, str]]:
    """{system: {"version": its own, distribution: version, ...}} of each peer's virtualenv."""
    versions = {}
    for library, python in pythons.items():
        if library in VERSIONS:
            names = VERSIONS[library]
            script = f"import importlib.metadata as m; print(*(m.version(n) for n in {names!r}))"
            out = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True).stdout.split()
            versions[library] = {"version": out[0], **dict(zip(names[1:], out[1:], strict=True))}
    return versions


def prepare_peers(st_python: str, model_dir: str, folder: Path) -> dict[str, str]:
    """The exported copies the peers load (benchmarks/cpu_peers.py prepare); {row: why skipped} for exports that
    failed."""
    calibration = folder.parent / "calibration.json"
    calibration.write_text(json.dumps(calibration_texts()), encoding="utf-8")
    done = subprocess.run([st_python, str(HERE / "cpu_peers.py"), "prepare", model_dir, str(folder),
                           str(calibration)], capture_output=True, text=True, env=offline_env(folder.parent))
    if done.returncode:
        raise RuntimeError(f"exporting the peers' models failed:\n{done.stderr[-3000:]}")
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    return {row.name: f"export failed: {failed[row.options['file_name']]}" for row in ROWS
            if row.options.get("file_name") in failed}


def offline_env(scratch: Path) -> dict[str, str]:
    """No hub: every row and export runs offline, its caches in the run's scratch folder."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(scratch / "hf-home"), "FASTEMBED_CACHE_PATH": str(scratch / "fastembed-cache"),
            "FLAGCORE_CACHE_DIR": os.environ.get("FLAGCORE_CACHE_DIR", str(scratch / "flagcore-cache"))}


def json_of(command: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[1:3])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_rounds(args: argparse.Namespace, rows: list[Row], pythons: dict[str, str], model_dir: str,
               scratch: Path) -> tuple[dict, dict, dict, list, list]:
    """Every round: each row in its own process (a row that fails is recorded and dropped), then the GEMM-only
    ceilings. (seconds, outputs, failures, ceilings of each round, load averages)."""
    import numpy as np
    from run import loadavg, rotated

    env = offline_env(scratch)
    seconds: dict[str, list[float]] = {row.name: [] for row in rows}
    outputs: dict[str, dict] = {}
    failed: dict[str, str] = {}
    ceilings, loads = [], [loadavg()]
    ceiling = [sys.executable, str(HERE / "gemm_ceiling.py"), "--threads", str(args.threads), "--passages",
               str(args.passages)]
    for round_index in range(args.rounds):
        for row in rotated([row for row in rows if row.name not in failed], round_index):
            out = scratch / f"{rows.index(row)}-{round_index}.npz"
            done = subprocess.run(
                [pythons[row.library], __file__, "worker", row.name, model_dir, str(out), "--threads",
                 str(args.threads), "--passages", str(args.passages), "--prepared", str(scratch / "prepared")],
                capture_output=True, text=True, env=env)
            if done.returncode:
                failed[row.name] = done.stderr[-2000:]
                print(f"round {round_index + 1} {row.name}: FAILED\n{done.stderr[-1500:]}", flush=True)
                continue
            seconds[row.name].append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
            if row.name not in outputs:
                outputs[row.name] = dict(np.load(out))
            print(f"round {round_index + 1} {row.name}: {seconds[row.name][-1]:.2f} s", flush=True)
        ceilings.append(json_of(ceiling, env))
        print(f"round {round_index + 1} GEMM-only ceilings: "
              f"{ {p: round(c['docs_per_s'], 1) for p, c in next(iter(ceilings[-1]['shapes'].values())).items()} }",
              flush=True)
        loads.append(loadavg())
    return seconds, outputs, failed, ceilings, loads


def run(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT / "tests" / "parity"))
    from tiny_models import minilm_dir

    from flagcore.cli.inspect_commands import environment_report

    model_dir = str(minilm_dir())
    pythons = {library: python for library, python in (
        ("flagcore", sys.executable), ("sentence-transformers", args.st_python),
        ("fastembed", args.fastembed_python), ("infinity-emb", args.infinity_python)) if python}
    skipped = {row.name: f"no --{row.library.split('-')[0]}-python given" for row in ROWS
               if row.library not in pythons}
    rows = [row for row in ROWS if (not args.rows or row.name in args.rows) and row.name not in skipped]
    versions = peer_versions(pythons)
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        skipped.update(prepare_peers(args.st_python, model_dir, scratch / "prepared"))
        rows = [row for row in rows if row.name not in skipped]
        seconds, outputs, failed, ceilings, loads = run_rounds(args, rows, pythons, model_dir, scratch)
        extra = [sys.executable, str(HERE / "gemm_ceiling.py"), "--threads", str(args.threads), "--passages",
                 str(args.passages), "--record-shapes", "--repeats", "1"]
        other_shapes = json_of(extra, offline_env(scratch))["shapes"] if args.record_shapes else {}
        profile = json_of([sys.executable, str(HERE / "fp32_profile.py"), "--threads", str(args.threads),
                           "--passages", str(args.passages)], offline_env(scratch))
    _, passages = texts(args.passages)
    results = {}
    for row in rows:
        if row.name in failed:
            continue
        median = statistics.median(seconds[row.name])
        results[row.name] = {"library": row.library, "precision": row.precision, "options": row.options,
                             "docs_per_s": len(passages) / median, "seconds": seconds[row.name],
                             **(quality(outputs[REFERENCE], outputs[row.name]) if REFERENCE in outputs else {})}
    gemm = gemm_ceiling_summary(ceilings, other_shapes)
    report = environment_report()
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": report,
            "threads": args.threads, "rounds": args.rounds, "passages": len(passages), "max_length": MAX_LENGTH,
            "sentence_transformers": versions["sentence-transformers"], "peers": versions, "loadavg": loads,
            "rows": results,
            "skipped": skipped, "failed": {name: text[-600:] for name, text in failed.items()},
            "gemm_ceiling": gemm, "profile_fp32": profile,
            "ceiling_fractions": ceiling_fractions(results, gemm["docs_per_s"]), "pareto": pareto(results),
            "targets": verdicts(results, bool(report["native_bf16"]))}


# -- what the record concludes --------------------------------------------------------------------------------------
def gemm_ceiling_summary(rounds: list[dict], other_shapes: dict) -> dict:
    """The benchmark shape's ceilings: each round's docs/s and their median per precision."""
    per_round = [next(iter(r["shapes"].values())) for r in rounds]
    precisions = per_round[0] if per_round else {}
    return {"shape": next(iter(rounds[0]["shapes"])) if rounds else None,
            "batches": rounds[0]["batches"] if rounds else None,
            "token_rows": rounds[0]["token_rows"] if rounds else None,
            "rounds": [{p: c["docs_per_s"] for p, c in r.items()} for r in per_round],
            "docs_per_s": {p: statistics.median(r[p]["docs_per_s"] for r in per_round) for p in precisions},
            "other_shapes": {name: {p: c["docs_per_s"] for p, c in shape.items()}
                             for name, shape in other_shapes.items()}}


def ceiling_fractions(results: dict, ceiling: dict[str, float]) -> dict:
    """Each flagcore row's docs/s as a fraction of its precision's GEMM-only ceiling; target: every one ≥ 80%."""
    fractions = {name: {"precision": row["precision"], "fraction": row["docs_per_s"] / ceiling[row["precision"]]}
                 for name, row in results.items()
                 if row["library"] == "flagcore" and ceiling.get(row["precision"])}
    return {"target": TARGETS["ceiling_fraction"], "rows": fractions,
            "met": all(f["fraction"] >= TARGETS["ceiling_fraction"] for f in fractions.values()) if fractions
            else None}


def pareto(results: dict) -> dict:
    """Per quality band (minimum cosine to flagcore fp32), each system's fastest row, and flagcore's fastest ÷ the
    fastest peer's; target 1.3×."""
    bands = {}
    for band in BANDS:
        fastest = {}
        for system in SYSTEMS:
            inside = {n: r for n, r in results.items() if r["library"] == system and r.get("cosine_min", 0) >= band}
            if inside:
                name = max(inside, key=lambda n: inside[n]["docs_per_s"])
                fastest[system] = {"row": name, "docs_per_s": inside[name]["docs_per_s"]}
        peers = {s: f for s, f in fastest.items() if s != "flagcore"}
        best_peer = max(peers, key=lambda s: peers[s]["docs_per_s"]) if peers else None
        ratio = (fastest["flagcore"]["docs_per_s"] / peers[best_peer]["docs_per_s"]
                 if best_peer and "flagcore" in fastest else None)
        bands[str(band)] = {"fastest": fastest, "best_peer": best_peer, "ratio": ratio,
                            "met": None if ratio is None else ratio >= TARGETS["pareto_vs_best_peer"]}
    return {"target": TARGETS["pareto_vs_best_peer"], "bands": bands}


def verdicts(results: dict, native_bf16: bool) -> dict:
    """The first target (a bf16 CPU: flagcore's fastest at fp32 quality ≥ 1.3× sentence-transformers' fastest)."""
    flagcore = {n: r for n, r in results.items() if r["library"] == "flagcore"}
    st = {n: r for n, r in results.items() if r["library"] == "sentence-transformers"
          and r.get("cosine_min", 1.0) >= TARGETS["min_cosine"]}  # its int8 exports sit in the Pareto table
    good = {n: r for n, r in flagcore.items() if r.get("cosine_min", 1.0) >= TARGETS["min_cosine"]}
    if not good or not st:
        return {}
    best_fc = max(good, key=lambda n: good[n]["docs_per_s"])
    best_st = max(st, key=lambda n: st[n]["docs_per_s"])
    ratio = good[best_fc]["docs_per_s"] / st[best_st]["docs_per_s"]
    fp32_st = [r["docs_per_s"] for r in st.values() if r["precision"] == "fp32"]
    fp32_ratio = results[REFERENCE]["docs_per_s"] / max(fp32_st) if fp32_st and REFERENCE in results else None
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
    parser.add_argument("--fastembed-python", help="python of fastembed's virtualenv (else its rows are skipped)")
    parser.add_argument("--infinity-python", help="python of infinity-emb[optimum]'s virtualenv (else skipped)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--passages", type=int, default=700)
    parser.add_argument("--rows", nargs="*", help="only these rows (names as in ROWS)")
    parser.add_argument("--no-record-shapes", dest="record_shapes", action="store_false",
                        help="skip the bge-sized GEMM-only ceilings (minutes at 700 passages)")
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
    print(json.dumps({name: {k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()
                             if k in ("docs_per_s", "cosine_mean", "cosine_min", "top10_overlap")}
                      for name, row in record["rows"].items()}, indent=1))
    print(json.dumps({k: record[k] for k in ("targets", "ceiling_fractions", "pareto", "skipped")}, indent=1))


if __name__ == "__main__":
    main()
