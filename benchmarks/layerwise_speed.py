"""Speed of the layer-wise rerankers (flagcore-layerwise) on the CPU: a low cutoff layer against full depth, and for
the lightweight Gemma2 reranker, passage token compression.

    python benchmarks/layerwise_speed.py [--family minicpm|gemma2|both] [--rounds 3] [--tiny-rounds 15] [--pairs 8]
                                         [--wide-layers N] [--no-write]

For each family two seeded random checkpoints are written into a temporary folder (fp32 safetensors, a byte-level
BPE tokenizer of tests/parity/tiny_decoders.py):

- *tiny*: hidden 64, 4 layers, heads for layers 2..4 (the shape of the family's tests);
- *wide*: the width of the real model with its depth and vocabulary scaled down (the vocabulary is the small
  tokenizer's). ``minicpm`` (``decoder-only-layerwise``): BAAI/bge-reranker-v2-minicpm-layerwise's hidden 2304,
  36 attention and 36 key/value heads, intermediate 5760, scale_emb 12, dim_model_base 256, scale_depth 1.4;
  12 layers instead of 40, start_layer 2 instead of 8. ``gemma2`` (``decoder-only-lightweight``):
  BAAI/bge-reranker-v2.5-gemma2-lightweight's (gemma-2-9b's) hidden 3584, 16 heads of 256 with 8 key/value
  heads, intermediate 14336; 6 layers instead of 42, start_layer 2 instead of 8. The real models (2.7B and 9B
  parameters) take far too long on a small CPU; a layer of the wide model costs what a layer of the real one
  does, so the time of a call scales with the layers it runs (and, with compression, the tokens they see), which
  is what is measured here.

Each model is loaded once with ``FlagAutoReranker.from_finetuned(path, devices="cpu")`` (fp32, the default batch
size and token budget) and scores the same pairs (pydoc paragraphs from benchmarks/corpus.py; 8 by default,
~200 tokens each; the tiny model's timed run is 10 calls and it gets more rounds, since its short calls are the
ones a busy CPU disturbs most) with per-call options: the cutoff at the lowest layer (start_layer), the middle one,
full depth, and all three at once (one forward, the scores read on the way up, so it should cost what full depth
costs); for gemma2 also full depth with the passages compressed 2x and 4x before layer start_layer. Configurations
alternate round by round (the first one rotating); the table reports medians. For minicpm the scores of the
three-layer call are checked against the single-layer calls (the lightweight model picks its heads by position in
the list, so there they differ by design). The markdown table is printed and written into ``--out`` between the
family's markers (``<!-- speed-table -->`` for minicpm, ``<!-- lightweight-speed-table -->`` for gemma2), so a rerun
updates it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "parity"))

from corpus import pairs as corpus_pairs  # noqa: E402
from corpus import paragraphs  # noqa: E402
from cpu_path_checks import time_alternately  # noqa: E402
from run import cpu_name  # noqa: E402

MINICPM_SCALES = {"scale_emb": 12.0, "dim_model_base": 256, "scale_depth": 1.4}
GEMMA2_FIXED = {"query_pre_attn_scalar": None, "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-6,
                "sliding_window": 4096, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
                "layer_wise": True, "layer_sep": 1, "max_position_embeddings": 8192}


@dataclass(frozen=True)
class Family:
    model_class: str
    reranker: str  # the class flagcore resolves it to
    architecture: str
    model_type: str
    tokenizer_role: str  # of tests/parity/tiny_decoders.py
    real_model: str
    real_shape: str
    tiny: dict[str, Any]
    wide: dict[str, Any]
    markers: tuple[str, str]


FAMILIES = {
    "minicpm": Family(
        "decoder-only-layerwise", "LayerWiseReranker", "LayerWiseMiniCPMForCausalLM", "minicpm", "tiny-llama",
        "bge-reranker-v2-minicpm-layerwise", "40 layers, start_layer 8, vocabulary 122753",
        {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
         "num_key_value_heads": 2, "start_layer": 2, **MINICPM_SCALES},
        {"hidden_size": 2304, "intermediate_size": 5760, "num_hidden_layers": 12, "num_attention_heads": 36,
         "num_key_value_heads": 36, "start_layer": 2, **MINICPM_SCALES},
        ("<!-- speed-table -->", "<!-- /speed-table -->")),
    "gemma2": Family(
        "decoder-only-lightweight", "LightweightReranker", "CostWiseGemmaForCausalLM", "cost_wise_gemma", "tiny-gemma2",
        "bge-reranker-v2.5-gemma2-lightweight", "42 layers, start_layer 8, vocabulary 256000",
        {"hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 16, "start_layer": 2},
        {"hidden_size": 3584, "intermediate_size": 14336, "num_hidden_layers": 6, "num_attention_heads": 16,
         "num_key_value_heads": 8, "head_dim": 256, "start_layer": 2},
        ("<!-- lightweight-speed-table -->", "<!-- /lightweight-speed-table -->")),
}


def write_checkpoint(folder: Path, tokenizer_source: Path, family: Family, shape: dict[str, Any],
                     seed: int = 0) -> Path:
    """A seeded random checkpoint of the family's architecture and the given shape (fp32 safetensors): norm weights
    ``1 + 0.1 * N(0, 1)`` (MiniCPM) or ``0.1 * N(0, 1)`` (Gemma's ``1 + w`` norms), every other tensor
    ``0.1 * N(0, 1)``, drawn in sorted name order from one generator."""
    import torch
    from flagcore_layerwise.costwise_gemma import CostWiseGemma
    from flagcore_layerwise.minicpm import LayerWiseMiniCPM
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_source / name).exists():
            shutil.copy(tokenizer_source / name, folder / name)
    source = json.loads((tokenizer_source / "config.json").read_text())
    config = {"architectures": [family.architecture], "model_type": family.model_type,
              "vocab_size": source["vocab_size"], "rope_theta": 10000.0, "torch_dtype": "float32",
              **{k: source[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if source.get(k) is not None},
              **shape}
    gemma = family.model_class == "decoder-only-lightweight"
    if gemma:
        config.update(GEMMA2_FIXED, query_pre_attn_scalar=shape["head_dim"])
    else:
        config.update(hidden_act="silu", max_position_embeddings=2048, rms_norm_eps=1e-5, head_multi=True,
                      head_type="simple")
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    with torch.device("meta"):
        model = (CostWiseGemma if gemma else LayerWiseMiniCPM)(config)
        shapes = {name: value.shape for name, value in model.state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, size in sorted(shapes.items()):
        noise = torch.randn(size, generator=generator, dtype=torch.float32)
        state[name] = (0.1 * noise if gemma else 1 + 0.1 * noise) if "norm" in name else 0.1 * noise
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def configurations(family: Family, shape: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """compute_score options per configuration: the cutoff at the lowest, (on a deep enough model) the middle and
    the last layer, those together; for the lightweight model full depth with passages compressed 2x and 4x
    before layer start_layer."""
    low, full = shape["start_layer"], shape["num_hidden_layers"]
    layers = sorted({low, (low + full) // 2, full}) if full - low >= 2 else [low, full]
    runs = {f"cutoff_layers={layer}": {"cutoff_layers": [layer]} for layer in layers}
    runs[f"cutoff_layers={layers}"] = {"cutoff_layers": layers}
    if family.model_class == "decoder-only-lightweight":
        for ratio in (2, 4):
            runs[f"cutoff_layers={full}, compress_ratio={ratio}, compress_layers=[{low}]"] = {
                "cutoff_layers": [full], "compress_ratio": ratio, "compress_layers": [low]}
    return runs


def token_share(options: dict[str, Any], layers: int, rows: list[tuple[int, int]]) -> float:
    """The share of full-depth (layer x token) work a configuration does, counting real tokens only: ``rows`` are
    (pair length, passage tokens)."""
    top = max(options["cutoff_layers"])
    ratio, at = options.get("compress_ratio", 1), options.get("compress_layers", [])
    before = min([top, *(c for c in at if c)]) if ratio > 1 else top
    full = sum(n for n, _ in rows)
    compressed = sum(n - p + math.ceil(p / ratio) for n, p in rows)
    return (before * full + (top - before) * compressed) / (layers * full)


def measure(name: str, family: Family, folder: Path, pairs: list[tuple[str, str]], max_length: int, rounds: int,
            repeat: int = 1) -> list[dict]:
    """Every configuration's seconds per round (``repeat`` calls each, for a model too small to time one call)."""
    import numpy as np

    from flagcore import FlagAutoReranker

    config = json.loads((folder / "config.json").read_text())
    full = config["num_hidden_layers"]
    reranker = FlagAutoReranker.from_finetuned(str(folder), devices="cpu", max_length=max_length)
    assert type(reranker).__name__ == family.reranker and reranker.compute_dtype == "float32", reranker
    tokens = reranker.tokenize_pairs(reranker._with_instructions(pairs),
                                     reranker.query_max_length or max_length * 3 // 4, max_length)
    lengths = [len(ids) for ids in tokens["input_ids"]]
    passages = [sum(m) for m in tokens["passage_mask"]] if "passage_mask" in tokens else [0] * len(lengths)
    runs = configurations(family, config)
    reranker.compute_score(pairs[:2], show_progress_bar=False)  # first call: not timed

    def call(options: dict[str, Any]) -> Any:
        for _ in range(repeat):
            scores = reranker.compute_score(pairs, show_progress_bar=False, **options)
        return scores

    outputs, seconds = time_alternately({label: lambda o=options: call(o) for label, options in runs.items()},
                                        rounds)
    for label, scores in outputs.items():
        assert np.isfinite(np.asarray(scores)).all(), (name, label)
    together = next(label for label, options in runs.items() if len(options["cutoff_layers"]) > 1)
    if family.model_class == "decoder-only-layerwise":
        for index, layer in enumerate(runs[together]["cutoff_layers"]):
            single = np.asarray(outputs[f"cutoff_layers={layer}"])
            np.testing.assert_allclose(outputs[together][index], single, rtol=1e-4,
                                       atol=1e-4 * np.abs(single).max())
    full_seconds = statistics.median(seconds[f"cutoff_layers={full}"])
    params = sum(v.numel() for v in reranker.model.parameters())
    rows = []
    for label, options in runs.items():
        median = statistics.median(seconds[label])
        rows.append({"model": name, "config": label, "layers_run": max(options["cutoff_layers"]), "layers": full,
                     "pairs_per_s": repeat * len(pairs) / median, "seconds": seconds[label],
                     "vs_full": median / full_seconds,
                     "theory": token_share(options, full, list(zip(lengths, passages, strict=True))),
                     "params": params, "lengths": lengths, "repeat": repeat, "rounds": rounds})
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = ["| model | call options | layers run | s per timed run: median (min-max) | pairs/s | time ÷ full depth "
             "| (layer × token) work ÷ full depth (theory) | speed-up |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        spread = f"{statistics.median(r['seconds']):.2f} ({min(r['seconds']):.2f}-{max(r['seconds']):.2f})"
        lines.append(f"| {r['model']} | `{r['config']}` | {r['layers_run']} of {r['layers']} | {spread} "
                     f"| {r['pairs_per_s']:.2f} | {r['vs_full']:.2f} | {r['theory']:.2f} "
                     f"| {1 / r['vs_full']:.2f}× |")
    return lines


def write_block(out: Path, markers: tuple[str, str], block: list[str]) -> None:
    begin, end = markers
    text = out.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise SystemExit(f"{out} has no {begin} ... {end} markers to write the table between")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    out.write_text(head + begin + "\n" + "\n".join(block) + "\n" + end + tail, encoding="utf-8")


def run_family(key: str, args: argparse.Namespace, pairs: list[tuple[str, str]]) -> list[str]:
    import torch
    import transformers
    from tiny_decoders import build

    started = time.perf_counter()
    family = FAMILIES[key]
    wide = {**family.wide, **({"num_hidden_layers": args.wide_layers} if args.wide_layers else {})}
    shapes = {"tiny": family.tiny, "wide": wide}
    rows = []
    with tempfile.TemporaryDirectory(prefix="layerwise-speed-") as scratch:
        root = Path(scratch)
        tokenizer = build(root / "tokenizer", (family.tokenizer_role,))[family.tokenizer_role]
        vocab = json.loads((tokenizer / "config.json").read_text())["vocab_size"]
        for name, shape in shapes.items():
            folder = write_checkpoint(root / name, tokenizer, family, shape)
            print(f"{key} {name}: {folder} written", flush=True)
            tiny = name == "tiny"
            rows += measure(name, family, folder, pairs, args.max_length,
                            max(args.rounds, args.tiny_rounds) if tiny else args.rounds,
                            args.tiny_repeats if tiny else 1)
            shutil.rmtree(folder)
    lengths = rows[0]["lengths"]
    wall = time.perf_counter() - started
    described = {r["model"]: r for r in rows}

    def about(name: str) -> str:
        s, params = shapes[name], described[name]["params"]
        heads = (f"{s['num_attention_heads']} heads" + (f" of {s['head_dim']}" if "head_dim" in s else "")
                 + f" ({s['num_key_value_heads']} key/value)")
        return (f"*{name}*: hidden {s['hidden_size']}, {heads}, intermediate {s['intermediate_size']}, "
                f"{s['num_hidden_layers']} layers, start_layer {s['start_layer']}, vocabulary {vocab} "
                f"({params / 1e6:.1f}M parameters)")

    return [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `benchmarks/layerwise_speed.py --family {key}` on "
        f"{cpu_name()}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.get_num_threads()} threads, fp32, default batch size and token budget; {len(pairs)} (query, "
        f"passage) pairs of pydoc paragraphs, `max_length={args.max_length}`, {min(lengths)}-{max(lengths)} tokens a "
        f"pair (median {statistics.median(lengths):.0f}); alternating rounds ({rows[0]['rounds']} for the tiny model, "
        f"a timed run being {args.tiny_repeats} calls; {rows[-1]['rounds']} for the wide one), medians; the run took "
        f"{wall / 60:.1f} min. Seeded random {family.architecture} models: {about('tiny')}; {about('wide')}, i.e. "
        f"the real {family.real_model}'s width with its depth and vocabulary ({family.real_shape}) scaled down.",
        "",
        *table(rows),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=[*FAMILIES, "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=8, help="pairs scored by every call (same for every model)")
    parser.add_argument("--tiny-repeats", type=int, default=10, help="calls per timed run of the tiny model")
    parser.add_argument("--tiny-rounds", type=int, default=15,
                        help="rounds for the tiny model (cheap; its short calls suffer most from a busy CPU)")
    parser.add_argument("--max-length", type=int, default=140,
                        help="the reranker's max_length (with the prompt twice, sequences come out ~150-250 tokens)")
    parser.add_argument("--wide-layers", type=int, default=None, help="layers of the wide model (default: per family)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "families" / "layerwise.md")
    parser.add_argument("--no-write", action="store_true", help="print the tables only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import torch

    torch.set_num_threads(args.threads)
    everything = corpus_pairs(paragraphs(minimum_chars=400))
    pairs = everything[:: max(1, len(everything) // args.pairs)][: args.pairs]  # every question, varied passages
    for key in FAMILIES if args.family == "both" else [args.family]:
        block = run_family(key, args, pairs)
        print("\n".join(block))
        if not args.no_write:
            write_block(args.out, FAMILIES[key].markers, block)
            print(f"written into {args.out}")


if __name__ == "__main__":
    main()
