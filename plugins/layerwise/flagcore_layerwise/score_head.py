"""The per-layer score head both layer-wise checkpoints share: ``lm_head.K.linear_head``, a bias-free
``hidden -> 1`` linear giving one relevance logit."""

from __future__ import annotations

from torch import nn


class ScoreHead(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear_head = nn.Linear(hidden, 1, bias=False)
