"""Deterministic tiny random layer-wise rerankers (parity of ``decoder-only-layerwise`` / ``decoder-only-lightweight``).

    python tests/parity/tiny_layerwise.py OUT_DIR        (in the FlagEmbedding 1.4.2 + transformers 4.44.2 venv)

writes OUT_DIR/{tiny-minicpm-layerwise, tiny-gemma2-lightweight}; `nox -s layerwise_references` writes them into
tests/parity/layerwise_models/ (committed, ~600 KiB each) and then the references. Same torch ⇒ byte-identical files.

* tiny-minicpm-layerwise: ``LayerWiseMiniCPMForCausalLM`` (bge-reranker-v2-minicpm-layerwise layout) — 4 layers, hidden
  64, 4 heads (no GQA, as MiniCPM-2B), FFN 64, ``start_layer`` 2 (score heads for layers 2, 3, 4), ``head_type``
  "simple", ``head_multi`` true, ``scale_emb`` 12, ``scale_depth`` 1.4, ``dim_model_base`` 256, rms eps 1e-5,
  ``tie_word_embeddings`` true (LayerWiseMiniCPMConfig's default; the checkpoint has no vocabulary head at all).
  Tokenizer: tiny_decoders' "llama" style (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2, pad ``</s>``), right padding.
* tiny-gemma2-lightweight: ``CostWiseGemmaForCausalLM`` (bge-reranker-v2.5-gemma2-lightweight layout) — 4 layers,
  hidden 64, 4 heads / 2 KV heads, head_dim 16 = ``query_pre_attn_scalar``, FFN 64, ``layer_wise`` true,
  ``start_layer`` 2, ``layer_sep`` 1 (heads for layers 2, 3, 4), ``final_logit_softcapping`` 30,
  ``attn_logit_softcapping`` 50, ``sliding_window`` 4096. Tokenizer: the "gemma" style (``<pad>`` 0, ``<eos>`` 1,
  ``<bos>`` 2, ``<unk>`` 3, ``<mask>`` 4) with ``padding_side: left`` in tokenizer_config.json (the class must override
  it with right padding).

config.json has the hub's ``architectures``, ``model_type`` ("minicpm" / "cost_wise_gemma") and ``auto_map`` (module
names of the remote code, which is not shipped: flagcore must load these natively). Weights: every tensor of the
FlagEmbedding model's state dict (``model.embed_tokens``, ``model.layers.N.*``, ``model.norm``,
``lm_head.K.linear_head.weight`` of shape (1, hidden)) from a seeded generator, 0.1·N(0,1) (norm weights 1 + 0.1·N for
MiniCPM, 0.1·N for Gemma's (1 + w) norm), fp32 safetensors. The tokenizers are tiny_decoders.py's byte-level BPEs
("Yes", "\n" single tokens; ids identical on transformers 4.44.2, 4.57.6 and 5.x for every parity string), except that
the merges are written as "a b" strings: tokenizers 0.19 (the newest transformers 4.44 accepts) cannot read the
[a, b] pair form. DERIVED roles are made from a committed one by changing one JSON file (``model_dirs``):
tiny-minicpm-layerwise-left-padding (padding_side left) and tiny-gemma2-lightweight-sliding-window (window 16).

What an implementer has to match (read from FlagEmbedding 1.4.2's layerwise.py, lightweight.py and bundled
models/*.py, and checked by running them on transformers 4.44.2; b = batch, S = padded length, H = hidden size)
=========================================================================================================

Input layout (both classes; every tokenizer call with add_special_tokens=False)
  q = tok(query', truncation=True, max_length=query_max_length).input_ids,  query' = query_instruction_format
      .format(query_instruction_for_rerank, query) when that instruction is not None (default "A: ", format "{}{}")
  p = tok(passage', truncation=True, max_length=max_length).input_ids,      passage' likewise ("B: ")
  query_max_length = call arg, else ctor arg, else max_length * 3 // 4 (max_length: call, else ctor, default 512);
  extra compute_score kwargs go to these two tokenizer calls.
  sep = tok("\n").input_ids; prompt = tok(prompt).input_ids; default prompts: layer-wise "Given a query A and a passage
  B, determine whether the passage contains an answer to the query by providing a prediction of either 'Yes' or
  'No'." (as FlagLLMReranker); lightweight "Predict whether passage B contains an answer to query A."
  first = [tok.bos_token_id] + q   — BOS ALWAYS, even when bos == pad (unlike FlagLLMReranker)
  second = sep + p
  budget = max_length + len(sep) + len(prompt); n = len(first) + len(second) - budget; if n > 0 and len(second) > n:
  drop n tokens from the END of second (from its start if tokenizer.truncation_side == "left"); if len(second) <= n
  nothing is dropped at all (tf4's prepare_for_model logs an error) — so the pair may exceed the budget.
  input_ids = first + second + sep + prompt, attention_mask all ones. The prompt budget is added before the prompt
  itself is appended: the trim bites only when 1 + len(q) + len(p) > max_length + len(prompt),
  i.e. a passage near max_length with a query longer than the prompt; the final length can reach max_length +
  2·len(sep) + 2·len(prompt).
  The "Yes" token plays no part: the score comes from a dedicated 1-output head.
Batching: pairs sorted by -(len(q) + len(p)) (np.argsort, before BOS/sep/prompt and before the pair trim),
  chunks of batch_size, tokenizer.pad(padding=True, pad_to_multiple_of=8) with the tokenizer's padding side, only
  input_ids and attention_mask go to the model (no position_ids); scores restored to input order. Batch composition
  changes results only by float noise (~1e-7 seen).
Score pooling, per kept layer: logits (b, S) [= head output (b, S, 1) → .float() → reshape(b, -1)];
  if attention_mask[:, -1].sum() == b (left padding, or no row padded): logits[:, -1], else logits[i, mask_i.sum()-1].
  The lightweight model uses the mask as it is after its last compression (see below).
Return: per layer a list of Python floats (float32 values); normalize=True → float(1 / (1 + np.exp(-x))) each; one
  kept layer → that flat list (also for a single pair: [x]); k kept layers → list of k lists, ascending layer order.
  A single pair may be passed as [q, p]. Precision: use_fp16=False and use_bf16=False warn and set fp16 (layer-wise
  sets self.use_fp16, so fp16 on GPU; lightweight only a local variable, so fp32); on CPU use_fp16 is reset to False:
  the CPU computes in the load dtype, fp32 (torch_dtype=float32 unless use_bf16).

LayerWiseFlagLLMReranker — LayerWiseMiniCPMForCausalLM (attention: SDPA, the default on tf 4.44; eager equal to 5e-7)
  cutoff_layers: call arg, else ctor arg, else None → [num_hidden_layers]; an int → [int]; entries outside
  [start_layer, num_hidden_layers] are dropped (logged warning "layers [...] are incompatible with the setting. They
  will be removed..."); none left → ValueError. max_layer = max(cutoff_layers).
  h = embed_tokens(ids) * scale_emb; position_ids = arange(S) for every row (also with left padding); causal mask
  combined with the padding mask. Layer (pre-norm Llama block, MiniCPM-scaled):
    h = h + attn(rms1(h)) * (scale_depth / sqrt(num_hidden_layers))
    h = h + mlp(rms2(h)) * (scale_depth / sqrt(num_hidden_layers))        (num_hidden_layers of the config, 40 real)
  rms(x) = (x * rsqrt(mean(x², -1) + eps)) * w (variance in fp32, then cast, then × w); attention: head_dim = H/heads,
  GQA by num_key_value_heads, scale 1/sqrt(head_dim), RoPE (rotate_half, theta rope_theta) in fp32, softmax fp32;
  mlp = down(silu(gate(x)) * up(x)).
  Loop for idx in 0..L-1: if idx in cutoff_layers: keep model.norm(h) (the state after idx layers, through the FINAL
  norm); if idx == max_layer: break; run layer idx. After the loop h = model.norm(h), kept only when max_layer == L.
  So the kept states are in ascending layer order, norm(h_l) for each requested l (h_l = after l layers).
  Head (head_type "simple", head_multi true): logits_i = lm_head[cutoff_layers[i] - start_layer].linear_head(state_i)
  with cutoff_layers in the CALLER'S order (after filtering) — sorted input is what makes head and state match; an
  unsorted [4, 2] applies layer 4's head to the layer-2 state and layer 2's head to the final state (a case records
  it). NO division by hidden_size / dim_model_base and no scale_emb/softcap on the head: that division exists only for
  head_type "raw"/"complex" (dim_model_base is unused here; the tiny model's 256 would make a wrong division ×4).
  Nothing else: no final_logit_softcapping, no vocabulary head.

LightWeightFlagLLMReranker — CostWiseGemmaForCausalLM (transformers 4.44.2's Gemma2 blocks, attention SDPA)
  Ctor sets tokenizer.padding_side = "right" whatever the tokenizer says. compress_layers: call arg
  (``compress_layer=`` is a deprecated call-time alias that wins, printing "Try not to use the parameter
  `compress_layer`; use `compress_layers` instead."), else ctor (default [8]); compress_ratio: call, else ctor
  (default 1 ⇒ no compression). cutoff_layers as above but the allowed set is range(start_layer, L + 1, layer_sep)
  (real: 8..42). query_lengths[j] = len([bos] + q_j + sep); prompt_lengths[j] = len(sep + prompt).
  h = embed_tokens(ids) * tensor(sqrt(H), dtype of h); position_ids = arange(S); additive causal+padding mask
  (finfo.min). is_padding_left = mask[:, -1].sum() == b and mask.sum() != b·S (computed once, on the input mask).
  Loop for idx in 0..L-1:
    1. if idx in cutoff_layers: keep (model.norm(h), current 2-D mask)
    2. if idx == max_layer: break
    3. if compress_ratio not in (None, 1) and idx in compress_layers and idx != 0: (ValueError "You must use right
       padding..." if is_padding_left) h, mask = token_compress(h, mask); position_ids = arange(S') (renumbered from
       0); the causal+padding mask is rebuilt from the new mask
    4. h = Gemma2DecoderLayer idx (h):  h = h + post_attn_norm(attn(input_norm(h)));
       h = h + post_ffw_norm(mlp(pre_ffw_norm(h)));  norm(x) = x·rsqrt(mean(x²)+eps)·(1 + w) in fp32, cast back;
       mlp = down(gelu_tanh(gate(x)) · up(x)); attention q/k/v/o without bias, GQA, RoPE theta 10000, scale
       query_pre_attn_scalar^-0.5, **no attention-logit softcapping**: transformers 4.44–4.46 load this class with
       SDPA (only Gemma2PreTrainedModel forces eager; CostWise derives from PreTrainedModel) and Gemma2SdpaAttention
       ignores attn_logit_softcapping (eager with the cap 50 differs by 2.7e-3 on these cases; eager without it by
       1.5e-6). Even layer indices (0, 2, ...) are sliding: keys with i - j >= sliding_window are masked (after a
       compression: on the compressed positions).
  After the loop h = model.norm(h), kept (with the current mask) only when max_layer == L.
  Heads: logits_i = lm_head[i].linear_head(state_i) with i the POSITION in the kept list (not layer - start_layer:
  cutoff_layers=[28] on the real model uses lm_head[0]); then tanh(x / 30) · 30 (final_logit_softcapping) in the
  model dtype, .float(), reshape(b, -1). Unsorted cutoff lists therefore give the same as sorted ones.
  token_compress(r, h (b,S,H), mask (b,S), qlen, plen) — per row j:
    P_j = mask_j.sum() - qlen_j - plen_j (the kept passage tokens: from after the first sep to before the second);
    K_j = ceil(P_j / r); F_j = qlen_j + K_j + plen_j; S' = max_j F_j; new mask_j = [1]·F_j + [0]·(S' - F_j)
    new h_j[0:qlen_j] = h_j[0:qlen_j]  (BOS, query, first sep)
    new h_j[qlen_j + g] = mean(h_j[qlen_j + g·r : qlen_j + min((g+1)·r, P_j)]) for g < K_j — groups counted from the
      passage start, the last one may be partial and is averaged over its real tokens (weights 1/count, then summed)
    new h_j[qlen_j + K_j : F_j] = h_j[qlen_j + P_j : qlen_j + P_j + plen_j]  (second sep and prompt)
    everything past F_j is zero. An empty passage (P_j = 0) gives K_j = 0: query, sep and prompt only.
  Several compress layers compress again with the same qlen/plen (r=2 at two layers ⇒ ceil(ceil(P/2)/2) rows).
  A cutoff layer that is also a compress layer keeps the state from BEFORE that compression (step 1 before 3). The
  compressed length has no pad_to_multiple_of; scores are read at mask.sum() - 1 of the kept mask.

Left padding: the layer-wise class keeps the tokenizer's padding side. With left padding positions are still
arange(S) from the first pad token (shifted for short rows); as RoPE is relative the scores equal the right-padded
ones up to ~1e-7 (the tiny-minicpm-layerwise-left-padding case), and the pooling takes logits[:, -1]. The lightweight
class forces right padding (its model raises ValueError on left-padded input only when it compresses).
Loading on transformers 5: AutoTokenizer on these folders without an explicit trust_remote_code=False asks on stdin
whether to run the custom code (config.json's auto_map), and blocks on a terminal.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tiny_decoders import CORPUS, learn_merges, tokenizer_files  # noqa: E402
from tiny_models import digest  # noqa: E402

# the committed checkpoints (the parity tests read them; `nox -s layerwise_references` rewrites them)
COMMITTED = Path(__file__).parent / "layerwise_models"

HIDDEN, LAYERS, HEADS, FFN, START_LAYER = 64, 4, 4, 64, 2

# role: (tokenizer style of tiny_decoders.py, padding side written into tokenizer_config.json, weight seed)
ROLE_SPECS = {
    "tiny-minicpm-layerwise": ("llama", "right", 21),
    "tiny-gemma2-lightweight": ("gemma", "left", 22),
}
ROLES = tuple(ROLE_SPECS)

# Variants made from a committed role by changing one JSON file (nothing else is committed for them):
# role: (base role, file, keys replaced)
DERIVED = {
    # FlagEmbedding's layer-wise reranker keeps the tokenizer's padding side: left padding, as a tokenizer may have it
    "tiny-minicpm-layerwise-left-padding": ("tiny-minicpm-layerwise", "tokenizer_config.json",
                                            {"padding_side": "left"}),
    # Gemma2's sliding window (4096 in the real model) shortened so that the tiny inputs cross it
    "tiny-gemma2-lightweight-sliding-window": ("tiny-gemma2-lightweight", "config.json",
                                               {"sliding_window": 16, "sliding_window_size": 16}),
}
ALL_ROLES = ROLES + tuple(DERIVED)

MINICPM_AUTO_MAP = {
    "AutoConfig": "configuration_minicpm_reranker.LayerWiseMiniCPMConfig",
    "AutoModel": "modeling_minicpm_reranker.LayerWiseMiniCPMModel",
    "AutoModelForCausalLM": "modeling_minicpm_reranker.LayerWiseMiniCPMForCausalLM",
}
GEMMA_AUTO_MAP = {
    "AutoConfig": "gemma_config.CostWiseGemmaConfig",
    "AutoModel": "gemma_model.CostWiseGemmaModel",
    "AutoModelForCausalLM": "gemma_model.CostWiseGemmaForCausalLM",
}


def model_config(role: str, vocab_size: int, specials: dict[str, int]) -> dict:
    """config.json of a role: the real hub checkpoint's fields, scaled down."""
    common = {"vocab_size": vocab_size, "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
              "num_attention_heads": HEADS, "attention_bias": False, "attention_dropout": 0.0,
              "rope_theta": 10000.0, "torch_dtype": "float32"}
    if role == "tiny-minicpm-layerwise":  # BAAI/bge-reranker-v2-minicpm-layerwise (MiniCPM-2B, 40 layers)
        return {**common, "model_type": "minicpm", "architectures": ["LayerWiseMiniCPMForCausalLM"],
                "auto_map": MINICPM_AUTO_MAP, "num_key_value_heads": HEADS, "hidden_act": "silu",
                "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "initializer_range": 0.1,
                "rope_scaling": None, "pretraining_tp": 1, "use_cache": False, "tie_word_embeddings": True,
                "bos_token_id": specials["<s>"], "eos_token_id": specials["</s>"],
                "scale_emb": 12, "scale_depth": 1.4, "dim_model_base": 256,
                "start_layer": START_LAYER, "head_multi": True, "head_type": "simple"}
    # BAAI/bge-reranker-v2.5-gemma2-lightweight (gemma-2-9b, 42 layers, start_layer 8, layer_sep 1)
    return {**common, "model_type": "cost_wise_gemma", "architectures": ["CostWiseGemmaForCausalLM"],
            "auto_map": GEMMA_AUTO_MAP, "num_key_value_heads": HEADS // 2, "head_dim": HIDDEN // HEADS,
            "query_pre_attn_scalar": HIDDEN // HEADS, "hidden_act": "gelu_pytorch_tanh",
            "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
            "initializer_range": 0.02, "use_cache": True, "cache_implementation": "hybrid",
            "sliding_window": 4096, "sliding_window_size": 4096,
            "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
            "bos_token_id": specials["<bos>"], "eos_token_id": specials["<eos>"], "pad_token_id": specials["<pad>"],
            "start_layer": START_LAYER, "layer_sep": 1, "layer_wise": True}


def _model_classes(role: str):
    """FlagEmbedding's bundled config and model classes (only importable with transformers ~4.44–4.46)."""
    if role == "tiny-minicpm-layerwise":
        from FlagEmbedding.inference.reranker.decoder_only.models.configuration_minicpm_reranker import (
            LayerWiseMiniCPMConfig,
        )
        from FlagEmbedding.inference.reranker.decoder_only.models.modeling_minicpm_reranker import (
            LayerWiseMiniCPMForCausalLM,
        )

        return LayerWiseMiniCPMConfig, LayerWiseMiniCPMForCausalLM
    from FlagEmbedding.inference.reranker.decoder_only.models.gemma_config import CostWiseGemmaConfig
    from FlagEmbedding.inference.reranker.decoder_only.models.gemma_model import CostWiseGemmaForCausalLM

    return CostWiseGemmaConfig, CostWiseGemmaForCausalLM


def _weights(role: str, config: dict, seed: int) -> dict:
    """Every tensor of the FlagEmbedding model's state dict, drawn from a seeded generator (not the initialisers)."""
    import torch

    config_cls, model_cls = _model_classes(role)
    model = model_cls(config_cls(**{k: v for k, v in config.items() if k not in ("model_type", "architectures")}))
    gemma = role.startswith("tiny-gemma")  # Gemma's RMSNorm scales by (1 + weight), MiniCPM's by weight
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, value in sorted(model.state_dict().items()):
        if name == "lm_head.weight":  # tie_word_embeddings sets the embedding as an attribute of the head list
            continue
        noise = torch.randn(value.shape, generator=generator, dtype=torch.float32)
        if "norm" in name and value.dim() == 1:
            tensors[name] = (0.0 if gemma else 1.0) + 0.1 * noise
        else:
            tensors[name] = 0.1 * noise
    return {k: v.contiguous() for k, v in tensors.items()}


def _dump(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build(out_dir: Path, roles: tuple[str, ...] = ROLES) -> dict[str, Path]:
    """Write the committed roles into out_dir/<role>/ (needs FlagEmbedding and transformers 4.44)."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    merges = learn_merges(CORPUS)
    built = {}
    for role in roles:
        style, padding_side, seed = ROLE_SPECS[role]
        folder = out_dir / role
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        files = tokenizer_files(style, padding_side, merges)
        # tokenizers 0.19 (what transformers 4.44 allows) reads merges only as "a b" strings, not as [a, b] pairs
        # (byte-level symbols never contain a space; newer tokenizers read both forms alike)
        files["tokenizer.json"]["model"]["merges"] = [f"{a} {b}" for a, b in merges]
        for name, data in files.items():
            _dump(folder / name, data)
        specials = {e["content"]: e["id"] for e in files["tokenizer.json"]["added_tokens"]}
        vocab_size = max([*files["tokenizer.json"]["model"]["vocab"].values(), *specials.values()]) + 1
        config = model_config(role, vocab_size, specials)
        _dump(folder / "config.json", dict(sorted(config.items())))
        save_file(_weights(role, config, seed), str(folder / "model.safetensors"), metadata={"format": "pt"})
        built[role] = folder
    return built


def model_dirs(models: Path = COMMITTED, scratch: Path | None = None) -> dict[str, Path]:
    """Every role's folder: the committed ones under ``models``, the DERIVED ones written into ``scratch``."""
    dirs = {role: models / role for role in ROLES}
    if scratch is None:
        return dirs
    for role, (base, file_name, changes) in DERIVED.items():
        folder = scratch / role
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(dirs[base], folder)
        data = json.loads((folder / file_name).read_text(encoding="utf-8"))
        data.update(changes)
        _dump(folder / file_name, data)
        dirs[role] = folder
    return dirs


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for built_role, built_folder in build(Path(sys.argv[1])).items():
        size = sum(p.stat().st_size for p in built_folder.iterdir())
        print(built_role, built_folder, f"{size / 1024:.0f} KiB", digest(built_folder))
