"""EncoderEmbedder (``encoder-only-base``): FlagEmbedding's FlagModel on the shared machinery."""

from __future__ import annotations

from typing import Any

from flagcore.family import AbsEmbedder, check_pooling, load_pretrained, pool

from .claims import MODEL_CLASS, SUPPORTED_POOLING


class EncoderEmbedder(AbsEmbedder):
    """A BERT-like encoder pooled by its CLS token or the mean of its tokens, then L2-normalised."""

    backends = ("torch", "openvino")

    def __init__(self, model_name_or_path: str, pooling_method: str = "cls", **kwargs: Any) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.pooling_method = check_pooling(pooling_method, SUPPORTED_POOLING, MODEL_CLASS)
        self.tokenizer, self.model = load_pretrained(self, "AutoModel")

    def embed_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        hidden = self.model(**batch, return_dict=True).last_hidden_state
        return pool(hidden, batch["attention_mask"], self.pooling_method)
