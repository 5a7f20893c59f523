"""Speed of the layer-wise reranker (flagcore-layerwise) on the CPU: a low cutoff layer against full depth.

    python benchmarks/layerwise_speed.py [--rounds 3] [--tiny-rounds 15] [--pairs 8] [--wide-layers 12] [--no-write]

Two seeded random ``LayerWiseMiniCPMForCausalLM`` checkpoints are written into a temporary folder (fp32
safetensors, the tiny-llama byte-level BPE tokenizer of tests/parity/tiny_decoders.py):

- *tiny*: hidden 64, 4 layers, heads for layers 2..4 (the shape of tests/test_layerwise_family.py);
- *wide*: the width of the real BAAI/bge-reranker-v2-minicpm-layerwise (hidden 2304, 36 attention heads and 36
  key/value heads, intermediate 5760, scale_emb 12, dim_model_base 256, scale_depth 1.4) with its depth and
  vocabulary scaled down: 12 layers instead of 40 and start_layer 2 instead of 8 (the vocabulary is the small
  tokenizer's, not 122753). The real model has ~2.7B parameters, too many for a 2-core CPU in reasonable time; a
  layer of the scaled-down model costs what a layer of the real one does, so the time of a cutoff scales with the
  number of layers it runs, which is what is measured here.

Each model is loaded once with ``FlagAutoReranker.from_finetuned(path, devices="cpu", cutoff_layers=...)`` (fp32,
the default batch size and token budget) and scores the same pairs (pydoc paragraphs from benchmarks/corpus.py;
8 by default, ~200 tokens each: a full-depth call of the wide model takes ~15 s on 2 cores; the tiny model's timed
run is 10 calls and it gets more rounds, since its short calls are the ones a busy CPU disturbs most)
with ``cutoff_layers=`` passed per call: the lowest layer (start_layer), the middle one, full depth, and all three
at once (one forward, the scores read on the way up, so it should cost what full depth costs). Configurations
alternate round by round (the first one rotating); the table reports medians. The scores of the three-layer call
are checked against the single-layer calls. The markdown table is printed and written into ``--out`` between the
``<!-- speed-table -->`` and ``<!-- /speed-table -->`` markers, so a rerun updates it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
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

BEGIN, END = "<!-- speed-table -->", "<!-- /speed-table -->"
MINICPM_SCALES = {"scale_emb": 12.0, "dim_model_base": 256, "scale_depth": 1.4}
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
        "num_key_value_heads": 2, "start_layer": 2, **MINICPM_SCALES}
WIDE = {"hidden_size": 2304, "intermediate_size": 5760, "num_hidden_layers": 12, "num_attention_heads": 36,
        "num_key_value_heads": 36, "start_layer": 2, **MINICPM_SCALES}


def write_checkpoint(folder: Path, tokenizer_source: Path, vocab_size: int, shape: dict[str, Any],
                     seed: int = 0) -> Path:
    """A seeded random LayerWiseMiniCPMForCausalLM checkpoint of the given shape (fp32 safetensors): norm weights
    ``1 + 0.1 * N(0, 1)``, every other tensor ``0.1 * N(0, 1)``, drawn in sorted name order from one generator."""
    import torch
    from flagcore_layerwise.minicpm import LayerWiseMiniCPM
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_source / name).exists():
            shutil.copy(tokenizer_source / name, folder / name)
    config = {
        "architectures": ["LayerWiseMiniCPMForCausalLM"], "model_type": "minicpm",
        "auto_map": {"AutoConfig": "configuration_minicpm_reranker.LayerWiseMiniCPMConfig",
                     "AutoModelForCausalLM": "modeling_minicpm_reranker.LayerWiseMiniCPMForCausalLM"},
        "vocab_size": vocab_size, "hidden_act": "silu", "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "head_multi": True, "head_type": "simple", "bos_token_id": 1, "eos_token_id": 2,
        "pad_token_id": 2, "torch_dtype": "float32", **shape,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    with torch.device("meta"):
        shapes = {name: value.shape for name, value in LayerWiseMiniCPM(config).state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, size in sorted(shapes.items()):
        noise = torch.randn(size, generator=generator, dtype=torch.float32)
        state[name] = (1 + 0.1 * noise) if "norm" in name else 0.1 * noise
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def configurations(shape: dict[str, Any]) -> dict[str, list[int]]:
    """Cutoff layers per configuration: the lowest, (on a deep enough model) the middle, full depth, and those
    together."""
    low, full = shape["start_layer"], shape["num_hidden_layers"]
    layers = sorted({low, (low + full) // 2, full}) if full - low >= 4 else [low, full]
    runs = {f"cutoff_layers={layer}": [layer] for layer in layers}
    runs[f"cutoff_layers={layers}"] = layers
    return runs


def measure(name: str, folder: Path, pairs: list[tuple[str, str]], max_length: int, rounds: int,
            repeat: int = 1) -> list[dict]:
    """Every configuration's seconds per round (``repeat`` calls each, for a model too small to time one call)."""
    import numpy as np

    from flagcore import FlagAutoReranker

    config = json.loads((folder / "config.json").read_text())
    full = config["num_hidden_layers"]
    reranker = FlagAutoReranker.from_finetuned(str(folder), devices="cpu", cutoff_layers=full, max_length=max_length)
    assert type(reranker).__name__ == "LayerWiseReranker" and reranker.compute_dtype == "float32", reranker
    lengths = [len(ids) for ids in reranker.tokenize_pairs(
        reranker._with_instructions(pairs), reranker.query_max_length or max_length * 3 // 4, max_length)["input_ids"]]
    runs = configurations(config)
    reranker.compute_score(pairs[:2], cutoff_layers=full, show_progress_bar=False)  # first call: not timed
    def call(cutoffs: list[int]) -> Any:
        for _ in range(repeat):
            scores = reranker.compute_score(pairs, cutoff_layers=cutoffs, show_progress_bar=False)
        return scores

    outputs, seconds = time_alternately({label: lambda c=cutoffs: call(c) for label, cutoffs in runs.items()}, rounds)
    together = next(label for label, cutoffs in runs.items() if len(cutoffs) > 1)
    for index, layer in enumerate(runs[together]):
        single = np.asarray(outputs[f"cutoff_layers={layer}"])
        assert np.isfinite(single).all(), (name, layer)
        np.testing.assert_allclose(outputs[together][index], single, rtol=1e-4, atol=1e-4 * np.abs(single).max())
    full_seconds = statistics.median(seconds[f"cutoff_layers={full}"])
    params = sum(v.numel() for v in reranker.model.parameters())
    rows = []
    for label, cutoffs in runs.items():
        median = statistics.median(seconds[label])
        rows.append({"model": name, "config": label, "layers_run": max(cutoffs), "layers": full,
                     "pairs_per_s": repeat * len(pairs) / median, "seconds": seconds[label],
                     "vs_full": median / full_seconds, "params": params, "lengths": lengths, "repeat": repeat,
                     "rounds": rounds})
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = ["| model | cutoff layers | layers run | s per timed run: median (min-max) | pairs/s | time ÷ full depth "
             "| layers run ÷ total (theory) | speed-up |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        spread = f"{statistics.median(r['seconds']):.2f} ({min(r['seconds']):.2f}-{max(r['seconds']):.2f})"
        lines.append(f"| {r['model']} | `{r['config']}` | {r['layers_run']} of {r['layers']} | {spread} "
                     f"| {r['pairs_per_s']:.2f} | {r['vs_full']:.2f} | {r['layers_run'] / r['layers']:.2f} "
                     f"| {1 / r['vs_full']:.2f}× |")
    return lines


def write_block(out: Path, block: list[str]) -> None:
    text = out.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{out} has no {BEGIN} ... {END} markers to write the table between")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    out.write_text(head + BEGIN + "\n" + "\n".join(block) + "\n" + END + tail, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=8, help="pairs scored by every call (same for every model)")
    parser.add_argument("--tiny-repeats", type=int, default=10, help="calls per timed run of the tiny model")
    parser.add_argument("--tiny-rounds", type=int, default=15,
                        help="rounds for the tiny model (cheap; its short calls suffer most from a busy CPU)")
    parser.add_argument("--max-length", type=int, default=140,
                        help="the reranker's max_length (with the prompt twice, sequences come out ~150-250 tokens)")
    parser.add_argument("--wide-layers", type=int, default=WIDE["num_hidden_layers"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "families" / "layerwise.md")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    started = time.perf_counter()
    warnings.filterwarnings("ignore")

    import torch
    import transformers
    from tiny_decoders import build

    torch.set_num_threads(args.threads)
    everything = corpus_pairs(paragraphs(minimum_chars=400))
    pairs = everything[:: max(1, len(everything) // args.pairs)][: args.pairs]  # every question, varied passages
    wide = {**WIDE, "num_hidden_layers": args.wide_layers}
    rows = []
    with tempfile.TemporaryDirectory(prefix="layerwise-speed-") as scratch:
        root = Path(scratch)
        llama = build(root / "tokenizer", ("tiny-llama",))["tiny-llama"]
        vocab = json.loads((llama / "config.json").read_text())["vocab_size"]
        for name, shape in (("tiny", TINY), ("wide", wide)):
            folder = write_checkpoint(root / name, llama, vocab, shape)
            print(f"{name}: {folder} written", flush=True)
            tiny = name == "tiny"
            rows += measure(name, folder, pairs, args.max_length, max(args.rounds, args.tiny_rounds) if tiny
                            else args.rounds, args.tiny_repeats if tiny else 1)
            shutil.rmtree(folder)
    lengths = rows[0]["lengths"]
    wall = time.perf_counter() - started
    described = {r["model"]: r for r in rows}
    shapes = {"tiny": TINY, "wide": wide}

    def about(name: str) -> str:
        s, params = shapes[name], described[name]["params"]
        return (f"*{name}*: hidden {s['hidden_size']}, {s['num_attention_heads']} heads "
                f"({s['num_key_value_heads']} key/value), intermediate {s['intermediate_size']}, "
                f"{s['num_hidden_layers']} layers, start_layer {s['start_layer']}, vocabulary {vocab} "
                f"({params / 1e6:.1f}M parameters)")

    block = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `benchmarks/layerwise_speed.py` on {cpu_name()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads, "
        f"fp32, default batch size and token budget; {len(pairs)} (query, passage) pairs of pydoc paragraphs, "
        f"`max_length={args.max_length}`, {min(lengths)}-{max(lengths)} tokens a pair "
        f"(median {statistics.median(lengths):.0f}); alternating rounds ({rows[0]['rounds']} for the tiny model, "
        f"a timed run being {args.tiny_repeats} calls; {rows[-1]['rounds']} for the wide one), medians; the whole "
        f"run took {wall / 60:.1f} min. "
        f"Seeded random models: {about('tiny')}; {about('wide')}, i.e. the real "
        "bge-reranker-v2-minicpm-layerwise's width with its depth (40 layers, start_layer 8) and vocabulary (122753) "
        "scaled down.",
        "",
        *table(rows),
    ]
    print("\n".join(block))
    if not args.no_write:
        write_block(args.out, block)
        print(f"written into {args.out}")


if __name__ == "__main__":
    main()
