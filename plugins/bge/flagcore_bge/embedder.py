"""EncoderEmbedder (``encoder-only-base``): FlagEmbedding's FlagModel on the shared machinery."""

from __future__ import annotations

from typing import Any

from flagcore.family import AbsEmbedder, load_pretrained

from .claims import SUPPORTED_POOLING


class EncoderEmbedder(AbsEmbedder):
    """A BERT-like encoder pooled by its CLS token or the mean of its tokens (or, for a model saved by
    sentence-transformers, by its own module chain), then L2-normalised."""

    backends = ("torch", "openvino")
    pooling_methods = SUPPORTED_POOLING
    default_pooling_method = "cls"

    def __init__(self, model_name_or_path: str, **kwargs: Any) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.tokenizer, self.model = load_pretrained(self, "AutoModel")

    def token_embeddings(self, batch: dict[str, Any], **options: Any) -> Any:
        return self.model(**batch, return_dict=True).last_hidden_state
