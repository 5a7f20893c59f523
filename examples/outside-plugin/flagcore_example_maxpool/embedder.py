"""MaxPoolEmbedder (``encoder-max-pool``): any transformers encoder, max-pooled over its real tokens."""

from __future__ import annotations

from typing import Any

import torch

from flagcore.family import AbsEmbedder, check_pooling, load_pretrained

from .claims import MODEL_CLASS, SUPPORTED_POOLING


class MaxPoolEmbedder(AbsEmbedder):
    """An ``AutoModel`` encoder whose last hidden states are max-pooled over the tokens the attention mask keeps.

    Padding positions are filled with the lowest value of the dtype before the max, so they never win it. The base
    class then truncates to ``truncate_dim``, L2-normalises (``normalize_embeddings=True``) and restores the order.
    """

    def __init__(self, model_name_or_path: str, pooling_method: str = "max", **kwargs: Any) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.pooling_method = check_pooling(pooling_method, SUPPORTED_POOLING, MODEL_CLASS)
        self.tokenizer, self.model = load_pretrained(self, "AutoModel")

    def embed_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        hidden = self.model(**batch, return_dict=True).last_hidden_state
        padding = batch["attention_mask"].unsqueeze(-1) == 0
        return hidden.masked_fill(padding, torch.finfo(hidden.dtype).min).amax(dim=1)
