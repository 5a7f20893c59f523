"""Write FlagEmbedding 1.4.2's layer-wise reranker outputs (run in the transformers 4.44 oracle virtualenv).

    python tests/parity/make_layerwise_references.py --models tests/parity/layerwise_models \
        --out tests/parity/references

LayerWiseFlagLLMReranker (cases.LAYERWISE_RERANKER_CASES) and LightWeightFlagLLMReranker
(cases.LIGHTWEIGHT_RERANKER_CASES) on the tiny checkpoints of tiny_layerwise.py (--models: the committed roles; the
derived roles are made from them in a temporary folder) → layerwise.json, in the shape of the other reference files:
``{"meta": {...}, "cases": {case id: {"shape": [n] or [layers, n], "values": ...}}}``. CPU, fp32 (use_fp16=False).
FlagEmbedding's bundled MiniCPM / Gemma2 model code runs only on transformers ~4.44–4.46, hence its own virtualenv
(``.nox/flagembedding-1.4.2-tf4.44``); `nox -s layerwise_references` sets it up, rebuilds the models and runs this.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import cases  # noqa: E402
from tiny_layerwise import ALL_ROLES, model_dirs  # noqa: E402
from tiny_models import digest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, required=True, help="the committed tiny checkpoints (one per role)")
    parser.add_argument("--out", type=Path, required=True, help="folder for layerwise.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        layerwise_references(model_dirs(args.models, Path(scratch)), args.out)


def plain(scores) -> dict:
    """FlagEmbedding's return value as {"shape", "values"}: a flat list of floats, or one list per cutoff layer."""
    assert isinstance(scores, list) and scores, scores
    if isinstance(scores[0], list):
        assert all(isinstance(s, float) for layer in scores for s in layer), scores
        return {"shape": [len(scores), len(scores[0])], "values": [[round(s, 8) for s in layer] for layer in scores]}
    assert all(isinstance(s, float) for s in scores), scores
    return {"shape": [len(scores)], "values": [round(s, 8) for s in scores]}


def layerwise_references(dirs: dict[str, Path], out_dir: Path) -> None:
    import FlagEmbedding
    import tokenizers
    import torch
    import transformers
    from FlagEmbedding import LayerWiseFlagLLMReranker, LightWeightFlagLLMReranker
    from FlagEmbedding.inference.reranker.decoder_only.models.gemma_model import CostWiseGemmaForCausalLM
    from FlagEmbedding.inference.reranker.decoder_only.models.modeling_minicpm_reranker import (
        LayerWiseMiniCPMForCausalLM,
    )

    case_lists = ((LayerWiseFlagLLMReranker, LayerWiseMiniCPMForCausalLM, cases.LAYERWISE_RERANKER_CASES),
                  (LightWeightFlagLLMReranker, CostWiseGemmaForCausalLM, cases.LIGHTWEIGHT_RERANKER_CASES))
    ids = [c[0] for _, _, found in case_lists for c in found]
    assert len(ids) == len(set(ids)), "case ids must be unique across the layer-wise lists"
    results, attention = {}, {}
    started = time.perf_counter()
    for cls, model_cls, case_list in case_lists:
        for case_id, role, init, method, input_name, call in case_list:
            with warnings.catch_warnings():  # "use_bf16 and use_fp16 cannot both be False" (the CPU runs fp32)
                warnings.simplefilter("ignore", UserWarning)
                model = cls(str(dirs[role]), use_fp16=False, devices="cpu", **init)
            # the classes fall back to AutoModelForCausalLM on any loading error: make sure the bundled code ran
            assert type(model.model) is model_cls, (case_id, type(model.model))
            attention[role] = model.model.config._attn_implementation
            results[case_id] = plain(getattr(model, method)(cases.INPUTS[input_name], **call))
            assert model.model.dtype == torch.float32, case_id
    meta = {
        "oracle": f"FlagEmbedding {getattr(FlagEmbedding, '__version__', '1.4.2')}",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
        "precision": "fp32 on CPU (use_fp16=False)",
        "attn_implementation": dict(sorted(attention.items())),
        "classes": {"LayerWiseFlagLLMReranker": "LAYERWISE_RERANKER_CASES",
                    "LightWeightFlagLLMReranker": "LIGHTWEIGHT_RERANKER_CASES"},
        "model_digests": {role: digest(dirs[role]) for role in ALL_ROLES},
    }
    text = json.dumps({"meta": meta, "cases": results}, ensure_ascii=False, separators=(",", ":"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "layerwise.json").write_text(text + "\n")
    print(f"wrote {len(results)} cases to {out_dir / 'layerwise.json'} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
