"""The lightweight Gemma2 reranker model (``CostWiseGemmaForCausalLM`` checkpoints), built from transformers' Gemma2
decoder layers; what differs from Gemma2 is written here.

- token embeddings are multiplied by ``sqrt(hidden_size)`` (rounded to the model dtype, as Gemma does);
- attention logits are **not** soft-capped: FlagEmbedding runs this model with SDPA attention, which leaves
  ``attn_logit_softcapping`` out, and its scores are the reference; even layers (0, 2, ...) attend within
  ``sliding_window`` positions;
- token compression: before layer ``i`` in ``compress_layers`` (``i != 0``), when ``compress_ratio > 1``, each row's
  passage tokens are mean-pooled in groups of ``compress_ratio`` (the last group may be shorter), the query part and
  the separator+prompt part are kept as they are, and positions are renumbered from 0;
- the score at cutoff layer ``c`` (one of ``range(start_layer, num_hidden_layers + 1, layer_sep)``) reads the state
  after ``c`` layers (before a compression at ``c``), through the final norm, at each row's last real token, through
  head ``lm_head[k]`` where ``k`` is ``c``'s position among the requested layers (FlagEmbedding's rule), soft-capped
  by ``final_logit_softcapping``;
- layers above the highest requested cutoff never run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .checkpoint import additive_mask, causal_padding_allowed, load_checkpoint
from .score_head import ScoreHead

ARCHITECTURE = "CostWiseGemmaForCausalLM"


def _gemma2_config(config: dict) -> Any:
    from transformers import Gemma2Config

    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "rope_theta",
            "attention_bias", "query_pre_attn_scalar", "sliding_window")
    values = {k: config[k] for k in keys if config.get(k) is not None}
    activation = config.get("hidden_activation") or config.get("hidden_act") or "gelu_pytorch_tanh"
    gemma = Gemma2Config(**values, hidden_activation=activation, attention_dropout=0.0,
                         attn_logit_softcapping=None, final_logit_softcapping=None)
    gemma._attn_implementation = "sdpa"
    return gemma


class _Backbone(nn.Module):
    def __init__(self, gemma: Any) -> None:
        from transformers.models.gemma2.modeling_gemma2 import (
            Gemma2DecoderLayer,
            Gemma2RMSNorm,
            Gemma2RotaryEmbedding,
        )

        super().__init__()
        self.embed_tokens = nn.Embedding(gemma.vocab_size, gemma.hidden_size)
        self.layers = nn.ModuleList(Gemma2DecoderLayer(gemma, i) for i in range(gemma.num_hidden_layers))
        self.norm = Gemma2RMSNorm(gemma.hidden_size, eps=gemma.rms_norm_eps)
        self.rotary_emb = Gemma2RotaryEmbedding(gemma)


class CostWiseGemma(nn.Module):
    """Scores ``(batch, len(cutoff_layers))`` for a right-padded batch."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        if not config.get("layer_wise", False):
            raise ValueError("this CostWiseGemmaForCausalLM checkpoint has layer_wise=false (a vocabulary head, no "
                             "per-layer score heads); the lightweight reranker needs the layer-wise checkpoints "
                             "such as BAAI/bge-reranker-v2.5-gemma2-lightweight")
        self.config = config
        self.num_layers = int(config["num_hidden_layers"])
        self.start_layer = int(config.get("start_layer", 28))
        self.layer_sep = int(config.get("layer_sep", 28))
        self.sliding_window = config.get("sliding_window")
        softcap = config.get("final_logit_softcapping")
        self.final_softcap = float(softcap) if softcap else None
        gemma = _gemma2_config(config)
        self.hidden_scale = math.sqrt(gemma.hidden_size)
        self.model = _Backbone(gemma)
        self.lm_head = nn.ModuleList(ScoreHead(gemma.hidden_size) for _ in self.cutoff_choices)

    @property
    def cutoff_choices(self) -> range:
        """The layers a score can be read at."""
        return range(self.start_layer, self.num_layers + 1, self.layer_sep)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, passage_mask: torch.Tensor,
                cutoff_layers: list[int], compress_ratio: int = 1, compress_layers: Sequence[int] = ()) -> torch.Tensor:
        hidden = self.model.embed_tokens(input_ids)
        hidden = hidden * torch.tensor(self.hidden_scale, dtype=hidden.dtype)
        compressing = {i for i in compress_layers if i != 0} if compress_ratio > 1 else set()
        top = max(cutoff_layers)
        kept: dict[int, torch.Tensor] = {}
        masks = position_embeddings = None
        for index in range(top + 1):
            if index in cutoff_layers:
                kept[index] = _last_real_token(hidden, attention_mask)
            if index == top:
                break
            if index in compressing:
                hidden, attention_mask, passage_mask = compress_passages(hidden, attention_mask, passage_mask,
                                                                         compress_ratio)
                masks = None
            if masks is None:
                masks = self._attention_masks(attention_mask, hidden.dtype)
                positions = torch.arange(hidden.shape[1], device=hidden.device)[None].expand(hidden.shape[0], -1)
                position_embeddings = self.model.rotary_emb(hidden, positions)
            hidden = self.model.layers[index](hidden, position_embeddings=position_embeddings,
                                              attention_mask=masks[index % 2])
        scores = []
        for position, layer in enumerate(sorted(kept)):
            head: Any = self.lm_head[position]
            logits = head.linear_head(self.model.norm(kept[layer])).squeeze(-1)
            if self.final_softcap is not None:
                logits = torch.tanh(logits / self.final_softcap) * self.final_softcap
            scores.append(logits)
        return torch.stack(scores, dim=-1)

    def _attention_masks(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """(sliding-window mask for even layers, full causal mask for odd layers), additive."""
        allowed = causal_padding_allowed(attention_mask)
        full = additive_mask(allowed, dtype)
        if not self.sliding_window:
            return full, full
        length = attention_mask.shape[1]
        near = torch.ones(length, length, dtype=torch.bool, device=attention_mask.device).triu(
            -(int(self.sliding_window) - 1))
        return additive_mask(allowed & near[None, None], dtype), full


def _last_real_token(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    last = attention_mask.sum(dim=1) - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def compress_passages(hidden: torch.Tensor, attention_mask: torch.Tensor, passage_mask: torch.Tensor,
                      ratio: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean-pool each row's passage tokens (``passage_mask``, one contiguous span) in groups of ``ratio``.

    Row ``j`` with query part ``q`` tokens, passage ``P`` and tail (separator + prompt) ``t`` becomes
    ``q + ceil(P / ratio) + t`` tokens, right-padded with zeros to the longest row. Returns the new hidden states,
    attention mask and passage mask.
    """
    device = hidden.device
    real = attention_mask.sum(dim=1)
    passage = passage_mask.sum(dim=1)
    start = torch.where(passage > 0, passage_mask.int().argmax(dim=1), torch.zeros_like(passage))
    groups = torch.div(passage + ratio - 1, ratio, rounding_mode="floor")
    final = real - passage + groups
    width = int(final.max())
    target = torch.arange(width, device=device)[None, :, None]  # (1, width, 1)
    source = torch.arange(hidden.shape[1], device=device)[None, None, :]  # (1, 1, length)
    q, p, k, f = (v[:, None, None] for v in (start, passage, groups, final))
    head = (target < q) & (source == target)
    group = target - q
    low, high = q + group * ratio, q + torch.minimum((group + 1) * ratio, p)
    in_passage = (target >= q) & (target < q + k) & (source >= low) & (source < high)
    tail = (target >= q + k) & (target < f) & (source == target - k + p)
    weights = head.to(hidden.dtype) + tail.to(hidden.dtype)
    weights = weights + in_passage.to(hidden.dtype) / (high - low).clamp(min=1).to(hidden.dtype)
    new_hidden = torch.bmm(weights, hidden)
    rows = torch.arange(width, device=device)[None, :]
    new_mask = (rows < final[:, None]).to(attention_mask.dtype)
    new_passage = ((rows >= start[:, None]) & (rows < (start + groups)[:, None])).to(passage_mask.dtype)
    return new_hidden, new_mask, new_passage


def load_costwise_gemma(path: str | os.PathLike[str], dtype: torch.dtype) -> CostWiseGemma:
    def build_rotary_embedding(model: CostWiseGemma) -> None:
        """The rotary embedding's frequencies are computed, not loaded: build it for real (it was made on 'meta')."""
        from transformers.models.gemma2.modeling_gemma2 import Gemma2RotaryEmbedding

        model.model.rotary_emb = Gemma2RotaryEmbedding(_gemma2_config(model.config))

    return load_checkpoint(path, CostWiseGemma, ARCHITECTURE, dtype, finish=build_rotary_embedding)
