"""CPU benchmark: flagcore against FlagEmbedding 1.4.2 and sentence-transformers, side by side in one run.

    python benchmarks/run.py --flagembedding-python .nox/flagembedding-1.4.2/bin/python [--rounds 3]

Every library runs in its own process (FlagEmbedding in its own virtualenv, as it needs transformers<5), with the
same torch thread count, on the real all-MiniLM-L6-v2 and the paragraphs of Python's pydoc topics. Libraries run
alternately, round after round; a row's speed is the median over rounds. The run is appended to
benchmarks/results.jsonl and docs/benchmarks.md is rewritten from every recorded run. `nox -s bench` sets it up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "parity"))

from corpus import pairs as corpus_pairs  # noqa: E402
from corpus import paragraphs  # noqa: E402
from report import write_report  # noqa: E402

TARGETS = {"vs_flagembedding": 2.0, "vs_sentence_transformers": 1.5, "roofline": 0.85, "import_s": 0.3}
EMBED_ROWS = [  # (row name, library, batch size or None for the library's default)
    ("flagcore", "flagcore", None),
    ("FlagEmbedding 1.4.2", "flagembedding", None),
    ("FlagEmbedding 1.4.2, batch_size=32", "flagembedding", 32),
    ("sentence-transformers", "sentence-transformers", None),
    ("flagcore, quantize='int8' (opt-in)", "flagcore-int8", None),
]
RERANK_ROWS = [
    ("flagcore", "flagcore", None),
    ("FlagEmbedding 1.4.2", "flagembedding", None),
    ("sentence-transformers CrossEncoder", "sentence-transformers", None),
]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def gemm_gflops(threads: int) -> float:
    """Measured fp32 matrix-multiply rate at the shapes of an encoder layer (best of several)."""
    import torch

    torch.set_num_threads(threads)
    best = 0.0
    for m, k, n in ((4096, 384, 1536), (4096, 1536, 384), (4096, 384, 384), (2048, 384, 1152)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        start, reps = time.perf_counter(), 10
        for _ in range(reps):
            a @ b
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
    return best


def gemm_only_seconds(lengths: list[int], config: dict, threads: int) -> float:
    """Seconds for just the dense matrix multiplies flagcore's default batching runs on the corpus.

    Replays every layer's Q, K, V, output and feed-forward ``linear`` at the padded batch shapes of flagcore's
    plan (same budget, same thread count), with nothing else: the time the forward pass could take if
    attention, GELU, layer norms and copies were free. Roofline seconds divided by this is the highest
    fraction of the roofline any implementation built on these multiplies can reach on this machine now.
    """
    import torch
    import torch.nn.functional as F

    from flagcore.engine.batching import Batcher
    from flagcore.model_base import DEFAULT_CPU_BATCH_TOKENS

    torch.set_num_threads(threads)
    d, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    generator = torch.Generator().manual_seed(0)
    square = [(torch.randn(d, d, generator=generator), torch.randn(d, generator=generator)) for _ in range(4)]
    ffn_in = (torch.randn(ffn, d, generator=generator), torch.randn(ffn, generator=generator))
    ffn_out = (torch.randn(d, ffn, generator=generator), torch.randn(d, generator=generator))
    batcher = Batcher(lengths, 256, DEFAULT_CPU_BATCH_TOKENS)
    shapes = [len(batch) * int(batcher.lengths[batch[0]]) for batch in batcher.all_batches()]
    total = 0.0
    with torch.inference_mode():
        for rows in shapes:
            hidden, wide = torch.randn(rows, d, generator=generator), torch.randn(rows, ffn, generator=generator)
            start = time.perf_counter()
            for _ in range(layers):
                for weight, bias in square:
                    F.linear(hidden, weight, bias)
                F.linear(hidden, *ffn_in)
                F.linear(wide, *ffn_out)
            total += time.perf_counter() - start
    return total


def encoder_flops(lengths: list[int], config: dict) -> float:
    """Real-token FLOPs of a BERT encoder: the dense layers plus attention scores and weighted sums."""
    d, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    dense = 2 * (4 * d * d + 2 * d * ffn)
    return float(sum(layers * (n * dense + 4 * n * n * d) for n in lengths))


def make_reranker(minilm: Path, folder: Path) -> Path:
    """all-MiniLM-L6-v2's backbone with a seeded one-logit head: real cost, no relevance signal."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(minilm / name, folder / name)
    config = json.loads((minilm / "config.json").read_text())
    config.update(architectures=["BertForSequenceClassification"], id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    (folder / "config.json").write_text(json.dumps(config))
    weights = {k if k.startswith("bert.") else f"bert.{k}": v
               for k, v in load_file(minilm / "model.safetensors").items()}
    generator = torch.Generator().manual_seed(0)
    weights["classifier.weight"] = 0.05 * torch.randn(1, config["hidden_size"], generator=generator)
    weights["classifier.bias"] = torch.zeros(1)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def worker(python: str, lib: str, task: str, model: Path, out: Path, threads: int, batch_size: int | None,
           limit: int | None, device: str = "cpu") -> dict:
    command = [python, str(HERE / "worker.py"), lib, task, str(model), str(out), "--threads", str(threads),
               "--device", device] + (["--fp16"] if device != "cpu" else [])
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    if limit:
        command += ["--limit", str(limit)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{lib} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_seconds(python: str, repeats: int = 7) -> float:
    code = "import time; t = time.perf_counter(); import flagcore; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeats)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flagembedding-python", help="python of FlagEmbedding's virtualenv (CPU benchmark)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N passages")
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--device", default="cpu",
                        help="cuda:N: the GPU benchmark (fp16, flagcore vs sentence-transformers) instead")
    args = parser.parse_args()
    if args.device != "cpu":
        return gpu_main(args)
    if not args.flagembedding_python:
        parser.error("the CPU benchmark needs --flagembedding-python (nox -s bench passes it)")

    import numpy as np
    import torch
    import transformers
    from tiny_models import minilm_dir
    from transformers import AutoTokenizer

    pythons = {"flagcore": sys.executable, "flagcore-int8": sys.executable, "sentence-transformers": sys.executable,
               "flagembedding": args.flagembedding_python}
    minilm = minilm_dir()
    texts = paragraphs()[: args.limit]
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=512)["input_ids"]]
    config = json.loads((minilm / "config.json").read_text())
    flops = encoder_flops(lengths, config)
    gemm_rates = [gemm_gflops(args.threads)]
    gemm_only = [gemm_only_seconds(lengths, config, args.threads)]
    fe_versions = subprocess.run(
        [args.flagembedding_python, "-c",
         "import transformers, torch; print(transformers.__version__, torch.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    import sentence_transformers

    record = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": args.threads,
                    "python": platform.python_version(), "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "sentence_transformers": sentence_transformers.__version__,
                    "flagembedding_env": f"transformers {fe_versions[0]}, torch {fe_versions[1]}"},
        "corpus": {"passages": len(texts), "tokens": int(sum(lengths)), "max_length": 512},
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        reranker = make_reranker(minilm, scratch / "minilm-cross-encoder")
        embed: dict[str, list[float]] = {name: [] for name, _, _ in EMBED_ROWS}
        rerank: dict[str, list[float]] = {name: [] for name, _, _ in RERANK_ROWS}
        for round_index in range(args.rounds):
            if round_index:
                gemm_rates.append(gemm_gflops(args.threads))  # the GEMM rate moves with the machine's load too
                gemm_only.append(gemm_only_seconds(lengths, config, args.threads))
            rows = EMBED_ROWS[round_index % len(EMBED_ROWS):] + EMBED_ROWS[: round_index % len(EMBED_ROWS)]
            for name, lib, batch_size in rows:
                out = worker(pythons[lib], lib, "embed", minilm, scratch / f"embed-{lib}-{batch_size}",
                             args.threads, batch_size, args.limit)
                embed[name] += out["seconds"]
                print(f"round {round_index + 1}: {name}: {len(texts) / out['seconds'][0]:.1f} docs/s", flush=True)
            for name, lib, batch_size in RERANK_ROWS[round_index % 3:] + RERANK_ROWS[: round_index % 3]:
                out = worker(pythons[lib], lib, "rerank", reranker, scratch / f"rerank-{lib}", args.threads,
                             batch_size, args.limit)
                rerank[name] += out["seconds"]
                print(f"round {round_index + 1}: rerank {name}: {out['items'] / out['seconds'][0]:.1f} pairs/s",
                      flush=True)
        ours = np.load(scratch / "embed-flagcore-None.npy")
        theirs = np.load(scratch / "embed-flagembedding-None.npy")
        st = np.load(scratch / "embed-sentence-transformers-None.npy")
        int8 = np.load(scratch / "embed-flagcore-int8-None.npy")
        scores = {lib: np.load(scratch / f"rerank-{lib}.npy") for lib in ("flagcore", "flagembedding")}
        first = {lib: worker(pythons[lib], lib, "first", minilm, scratch / "first", args.threads, None, None)
                 for lib in ("flagcore", "flagembedding", "sentence-transformers")}
    record["gemm_gflops_rounds"] = gemm_rates
    record["gemm_gflops"] = statistics.median(gemm_rates)
    record["roofline_s"] = flops / (record["gemm_gflops"] * 1e9)
    record["gemm_only_s_rounds"] = gemm_only
    record["gemm_only_s"] = statistics.median(gemm_only)
    record["embed"] = {name: {"seconds": s, "docs_per_s": len(texts) / statistics.median(s),
                              "tokens_per_s": sum(lengths) / statistics.median(s)} for name, s in embed.items()}
    n_pairs = len(corpus_pairs(texts))
    record["rerank"] = {name: {"seconds": s, "pairs_per_s": n_pairs / statistics.median(s)}
                        for name, s in rerank.items()}
    record["parity"] = {
        "embeddings_max_abs_diff_vs_flagembedding": float(np.abs(ours - theirs).max()),
        "embeddings_max_abs_diff_vs_sentence_transformers": float(np.abs(ours - st).max()),
        "scores_max_abs_diff_vs_flagembedding": float(np.abs(scores["flagcore"] - scores["flagembedding"]).max()),
        "int8_mean_cosine_vs_fp32": float((int8 * ours).sum(1).mean()),
    }
    record["import_s"] = import_seconds(sys.executable)
    record["first_embedding_s"] = {lib: {"load_s": v["load_s"], "first_s": v["first_s"]} for lib, v in first.items()}
    ours_s = statistics.median(embed["flagcore"])
    record["ratios"] = {
        "vs_flagembedding": statistics.median(embed["FlagEmbedding 1.4.2"]) / ours_s,
        "vs_flagembedding_bs32": statistics.median(embed["FlagEmbedding 1.4.2, batch_size=32"]) / ours_s,
        "vs_sentence_transformers": statistics.median(embed["sentence-transformers"]) / ours_s,
        "roofline": record["roofline_s"] / ours_s,
        "roofline_ceiling": record["roofline_s"] / record["gemm_only_s"],
        "int8_vs_fp32": ours_s / statistics.median(embed["flagcore, quantize='int8' (opt-in)"]),
    }
    with open(args.results, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    write_report(args.results, args.report, TARGETS)
    print(json.dumps({"ratios": record["ratios"], "parity": record["parity"], "import_s": record["import_s"]},
                     indent=1))


def gpu_main(args: argparse.Namespace) -> None:
    """fp16 on one GPU: flagcore against sentence-transformers, alternately, same corpus and model."""
    import torch
    from gpu_report import write_gpu_report
    from tiny_models import minilm_dir

    texts = paragraphs()[: args.limit]
    minilm = minilm_dir()
    rows = [("flagcore", "flagcore"), ("sentence-transformers", "sentence-transformers")]
    seconds: dict[str, list[float]] = {name: [] for name, _ in rows}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(args.rounds):
            for name, lib in rows[round_index % 2:] + rows[: round_index % 2]:
                out = worker(sys.executable, lib, "embed", minilm, Path(scratch) / lib, args.threads, None,
                             args.limit, device=args.device)
                seconds[name] += out["seconds"]
                print(f"round {round_index + 1}: {name}: {len(texts) / out['seconds'][0]:.1f} docs/s", flush=True)
        import numpy as np

        ours, theirs = (np.load(Path(scratch) / f"{lib}.npy") for _, lib in rows)
    record = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": torch.cuda.get_device_name(int(args.device.split(":")[1]) if ":" in args.device else 0),
        "torch": torch.__version__, "passages": len(texts), "rounds": args.rounds, "precision": "fp16",
        "docs_per_s": {name: len(texts) / statistics.median(s) for name, s in seconds.items()},
        "seconds": seconds,
        "max_abs_diff": float(np.abs(ours.astype(np.float32) - theirs.astype(np.float32)).max()),
    }
    results = args.results.with_name("results-gpu.jsonl")
    with open(results, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    write_gpu_report(results, args.report.with_name("benchmarks-gpu.md"))
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
