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

import math
import os
from typing import Any

import torch
from torch import nn

from .checkpoint import additive_mask, causal_padding_allowed, load_checkpoint
from .score_head import ScoreHead

ARCHITECTURE = "LayerWiseMiniCPMForCausalLM"


def _llama_config(config: dict) -> Any:
    from transformers import LlamaConfig

    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta",
            "rope_scaling", "attention_bias")
    llama = LlamaConfig(**{k: config[k] for k in keys if config.get(k) is not None}, attention_dropout=0.0)
    llama._attn_implementation = "sdpa"
    return llama


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
        self.lm_head = nn.ModuleList(ScoreHead(llama.hidden_size) for _ in range(heads)) if self.head_multi else (
            ScoreHead(llama.hidden_size))

    @property
    def cutoff_choices(self) -> range:
        """The layers a score can be read at (each has its head)."""
        return range(self.start_layer, self.num_layers + 1)

    def head(self, layer: int) -> nn.Linear:
        heads: Any = self.lm_head
        head = heads[layer - self.start_layer] if self.head_multi else heads
        return head.linear_head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                cutoff_layers: list[int]) -> torch.Tensor:
        hidden = self.model.embed_tokens(input_ids) * self.scale_emb
        mask = additive_mask(causal_padding_allowed(attention_mask), hidden.dtype)
        position_embeddings = self.model.rotary_emb(hidden, position_ids)
        wanted, scores = set(cutoff_layers), {}
        for index in range(max(cutoff_layers) + 1):
            if index in wanted:
                last = self.model.norm(hidden[:, -1])
                scores[index] = self.head(index)(last).squeeze(-1)
            if index < len(self.model.layers) and index < max(cutoff_layers):
                hidden = self.model.layers[index](hidden, position_embeddings, mask)
        return torch.stack([scores[c] for c in cutoff_layers], dim=-1)


def load_layerwise_minicpm(path: str | os.PathLike[str], dtype: torch.dtype) -> LayerWiseMiniCPM:
    def build_rotary_embedding(model: LayerWiseMiniCPM) -> None:
        """The rotary embedding's frequencies are computed, not loaded: build it for real (it was made on 'meta')."""
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

        model.model.rotary_emb = LlamaRotaryEmbedding(_llama_config(model.config))

    return load_checkpoint(path, LayerWiseMiniCPM, ARCHITECTURE, dtype, finish=build_rotary_embedding)
