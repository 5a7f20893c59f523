"""The layer-wise MiniCPM reranker model (``LayerWiseMiniCPMForCausalLM`` checkpoints), built from transformers'
Llama blocks: MiniCPM's attention, MLP and RMSNorm are Llama's; what differs is written here.

- token embeddings are multiplied by ``scale_emb``;
- each residual branch (attention, MLP) is multiplied by ``scale_depth / sqrt(num_hidden_layers)``;
- the score at cutoff layer ``c`` (``start_layer <= c <= num_hidden_layers``) reads the state after ``c`` layers,
  RMS-normalised by the final norm, at the last position, through head ``lm_head[c - start_layer]`` (a bias-free
  ``hidden -> 1`` linear: "simple" heads, which unlike MiniCPM's vocabulary head are not divided by
  ``hidden_size / dim_model_base``);
- layers above the highest requested cutoff never run.

Weights load from the checkpoint's safetensors under their published names (``model.layers.N.self_attn.q_proj``,
``lm_head.K.linear_head``, ...), strictly: a missing or unexpected tensor is an error naming it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

ARCHITECTURE = "LayerWiseMiniCPMForCausalLM"


def _llama_config(config: dict) -> Any:
    from transformers import LlamaConfig

    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta",
            "rope_scaling", "attention_bias")
    llama = LlamaConfig(**{k: config[k] for k in keys if config.get(k) is not None}, attention_dropout=0.0)
    llama._attn_implementation = "sdpa"
    return llama


class _Head(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear_head = nn.Linear(hidden, 1, bias=False)


class _Layer(nn.Module):
    def __init__(self, llama: Any, index: int, residual_scale: float) -> None:
        from transformers.models.llama.modeling_llama import LlamaAttention, LlamaMLP, LlamaRMSNorm

        super().__init__()
        self.self_attn = LlamaAttention(llama, index)
        self.mlp = LlamaMLP(llama)
        self.input_layernorm = LlamaRMSNorm(llama.hidden_size, eps=llama.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(llama.hidden_size, eps=llama.rms_norm_eps)
        self.residual_scale = residual_scale

    def forward(self, hidden: torch.Tensor, position_embeddings: tuple, mask: torch.Tensor) -> torch.Tensor:
        attended, _ = self.self_attn(hidden_states=self.input_layernorm(hidden),
                                     position_embeddings=position_embeddings, attention_mask=mask)
        hidden = hidden + attended * self.residual_scale
        return hidden + self.mlp(self.post_attention_layernorm(hidden)) * self.residual_scale


class _Backbone(nn.Module):
    def __init__(self, llama: Any, residual_scale: float) -> None:
        from transformers.models.llama.modeling_llama import LlamaRMSNorm, LlamaRotaryEmbedding

        super().__init__()
        self.embed_tokens = nn.Embedding(llama.vocab_size, llama.hidden_size)
        self.layers = nn.ModuleList(_Layer(llama, i, residual_scale) for i in range(llama.num_hidden_layers))
        self.norm = LlamaRMSNorm(llama.hidden_size, eps=llama.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(llama)


class LayerWiseMiniCPM(nn.Module):
    """Scores ``(batch, len(cutoff_layers))`` for a left-padded batch (the last column is every row's last token)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        if config.get("head_type", "simple") != "simple":
            raise ValueError(f"head_type={config.get('head_type')!r} is not supported; the published layer-wise "
                             "rerankers use 'simple' heads (one relevance logit per layer)")
        self.config = config
        self.num_layers = int(config["num_hidden_layers"])
        self.start_layer = int(config.get("start_layer", 8))
        self.scale_emb = float(config.get("scale_emb", 1))
        self.head_multi = bool(config.get("head_multi", True))
        llama = _llama_config(config)
        self.model = _Backbone(llama, float(config.get("scale_depth", 1)) / math.sqrt(self.num_layers))
        heads = self.num_layers - self.start_layer + 1 if self.head_multi else 1
        self.lm_head = nn.ModuleList(_Head(llama.hidden_size) for _ in range(heads)) if self.head_multi else (
            _Head(llama.hidden_size))

    @property
    def layer_range(self) -> tuple[int, int]:
        return self.start_layer, self.num_layers

    def head(self, layer: int) -> nn.Linear:
        return (self.lm_head[layer - self.start_layer] if self.head_multi else self.lm_head).linear_head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                cutoff_layers: list[int]) -> torch.Tensor:
        hidden = self.model.embed_tokens(input_ids) * self.scale_emb
        mask = _causal_padding_mask(attention_mask, hidden.dtype)
        position_embeddings = self.model.rotary_emb(hidden, position_ids)
        wanted, scores = set(cutoff_layers), {}
        for index in range(max(cutoff_layers) + 1):
            if index in wanted:
                last = self.model.norm(hidden[:, -1])
                scores[index] = self.head(index)(last).squeeze(-1)
            if index < len(self.model.layers) and index < max(cutoff_layers):
                hidden = self.model.layers[index](hidden, position_embeddings, mask)
        return torch.stack([scores[c] for c in cutoff_layers], dim=-1)


def _causal_padding_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive ``(batch, 1, length, length)`` mask: a query sees earlier real tokens; a padding row sees nothing
    real and gets a uniform (harmless) distribution instead of NaN."""
    length = attention_mask.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=attention_mask.device).tril()
    allowed = causal[None, None] & attention_mask[:, None, None, :].bool()
    return torch.zeros(allowed.shape, dtype=dtype, device=attention_mask.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)


def read_config(folder: Path) -> dict:
    with open(folder / "config.json", encoding="utf-8") as fh:
        return json.load(fh)


def load_state(folder: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors: ``model.safetensors`` or the shards of ``model.safetensors.index.json``."""
    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        with open(index, encoding="utf-8") as fh:
            shards = sorted(set(json.load(fh)["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(folder / shard)))
        return state
    single = folder / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors (or index): the layer-wise reranker loads "
                                "safetensors weights only")
    return load_file(str(single))


def load_layerwise_minicpm(path: str | os.PathLike[str], dtype: torch.dtype) -> LayerWiseMiniCPM:
    folder = Path(os.path.expanduser(os.fspath(path)))
    config = read_config(folder)
    with torch.device("meta"):
        model = LayerWiseMiniCPM(config)
    state = load_state(folder)
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"{folder} does not hold a {ARCHITECTURE} checkpoint of this shape: missing "
                         f"{missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected "
                         f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, assign=True)
    model.model.rotary_emb = _rotary_on_cpu(model)
    return model.eval()


def _rotary_on_cpu(model: LayerWiseMiniCPM) -> nn.Module:
    """The rotary embedding's frequencies are computed, not loaded: build it for real (it was made on 'meta')."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    return LlamaRotaryEmbedding(_llama_config(model.config))
