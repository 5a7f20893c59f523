"""Could ONNX Runtime be flagcore's faster CPU path? Times it inside flagcore's own pipeline against PyTorch.

    python benchmarks/onnxruntime_check.py [--passages 1200] [--rounds 4] [--out docs/onnxruntime.md]

Needs ``onnxruntime`` and ``onnx`` (``nox -s cpu_paths`` installs them). all-MiniLM-L6-v2 is exported
to ONNX twice: as is (PyTorch's SDPA attention) and with eager attention, which ONNX Runtime's transformer
optimizer can fuse into its Attention kernel (together with SkipLayerNormalization and BiasGelu). Each graph
replaces the PyTorch encoder inside the same flagcore embedder, so tokenization, token-budget batching and
pooling are identical; the variants then run alternately. The quality bar is the one of
``benchmarks/cpu_path_checks.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "parity"))



class OnnxEncoder:
    """Stands in for the PyTorch encoder: same call, ``last_hidden_state`` computed by an ONNX Runtime session."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids, attention_mask, **_ignored):
        import torch

        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        return SimpleNamespace(last_hidden_state=torch.from_numpy(self.session.run(None, feed)[0]))


def export(model_dir: Path, folder: Path, attention: str) -> Path:
    """The encoder's ``last_hidden_state`` graph with dynamic batch and length axes."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(model_dir, attn_implementation=attention).eval()

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = model

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    example = AutoTokenizer.from_pretrained(model_dir)(["a short text", "and a somewhat longer one"], padding=True,
                                                      return_tensors="pt")
    path = folder / f"minilm-{attention}.onnx"
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
            "last_hidden_state": {0: "batch", 1: "length"}}
    torch.onnx.export(HiddenStates().eval(), (example["input_ids"], example["attention_mask"]), str(path),
                      input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                      dynamic_axes=axes, opset_version=17, dynamo=False)
    return path


def optimize(path: Path, config: dict) -> tuple[Path, dict[str, int]]:
    """ONNX Runtime's offline transformer fusions; returns the new graph and the fused operators it made."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(str(path), model_type="bert", num_heads=config["num_attention_heads"],
                                         hidden_size=config["hidden_size"], opt_level=0)
    fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    out = path.with_name(path.stem + "-fused.onnx")
    optimized.save_model_to_file(str(out))
    return out, fused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "onnxruntime.md")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import json

    import numpy as np
    import onnxruntime
    import torch
    from corpus import paragraphs
    from cpu_path_checks import BAR_COSINE, BAR_OVERLAP, passes_bar, quality, time_alternately
    from tiny_models import minilm_dir

    from flagcore import FlagAutoModel

    threads = torch.get_num_threads()
    texts = paragraphs()[: args.passages]
    minilm = minilm_dir()
    config = json.loads((minilm / "config.json").read_text())
    embedder = FlagAutoModel.from_finetuned(str(minilm), devices="cpu")
    encoders = {"PyTorch (flagcore's path)": embedder.model}
    with tempfile.TemporaryDirectory() as scratch:
        plain = export(minilm, Path(scratch), "sdpa")
        fused_path, fused = optimize(export(minilm, Path(scratch), "eager"), config)
        encoders["ONNX Runtime, exported graph"] = OnnxEncoder(plain, threads)
        encoders["ONNX Runtime, fused transformer graph"] = OnnxEncoder(fused_path, threads)
    names = list(encoders)

    def encode_with(encoder):
        embedder.model = encoder
        return embedder.encode_corpus(texts, show_progress_bar=False)

    outputs, seconds = time_alternately({name: lambda e=encoder: encode_with(e) for name, encoder in encoders.items()},
                                        args.rounds)
    reference = outputs[names[0]]
    base = statistics.median(seconds[names[0]])
    lines = [
        "# ONNX Runtime as a CPU path",
        "",
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `benchmarks/onnxruntime_check.py`: "
        f"all-MiniLM-L6-v2, {len(texts)} pydoc paragraphs, fp32, {threads} threads, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}; {args.rounds} alternating rounds inside flagcore's embedder "
        "(same tokenization, batching and pooling). The fused graph has "
        + ", ".join(f"{count} {name}" for name, count in fused.items()) + ".",
        "",
        "| encoder | seconds (every round) | speed vs PyTorch | max abs diff | mean cosine | top-10 overlap |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for name in names:
        cosine, _, overlap = quality(outputs[name], reference)
        speed = base / statistics.median(seconds[name])
        lines.append(f"| {name} | {', '.join(f'{s:.2f}' for s in seconds[name])} | {speed:.2f}× | "
                     f"{float(np.abs(outputs[name] - reference).max()):.1e} | {cosine:.6f} | {overlap:.3f} |")
        if name != names[0]:
            verdicts.append(speed > 1.05 and passes_bar(cosine, overlap))
    lines += ["", "A variant would be worth an optional backend if it were clearly faster (> 1.05×) and cleared the "
              f"quality bar (mean cosine ≥ {BAR_COSINE}, top-10 overlap ≥ {BAR_OVERLAP}). "
              + ("At least one is." if any(verdicts) else
                 "None is: the outputs agree with PyTorch's, but on this CPU ONNX Runtime is no faster, so flagcore "
                 "ships no ONNX Runtime backend.")]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
