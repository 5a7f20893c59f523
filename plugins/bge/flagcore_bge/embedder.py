"""EncoderEmbedder (``encoder-only-base``): FlagEmbedding's FlagModel on the shared machinery."""

from __future__ import annotations

from typing import Any

from flagcore.family import AbsEmbedder, check_local_model, check_pooling, load_encoder, load_tokenizer, pool

from .claims import MODEL_CLASS, SUPPORTED_POOLING


class EncoderEmbedder(AbsEmbedder):
    """A BERT-like encoder pooled by its CLS token or the mean of its tokens, then L2-normalised."""

    def __init__(self, model_name_or_path: str, pooling_method: str = "cls", **kwargs: Any) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.pooling_method = check_pooling(pooling_method, SUPPORTED_POOLING, MODEL_CLASS)
        check_local_model(self.model_name_or_path)
        self.tokenizer = load_tokenizer(self.model_name_or_path, trust_remote_code=self.trust_remote_code,
                                        cache_dir=self.cache_dir)
        self.model = load_encoder("AutoModel", self.model_name_or_path, dtype=self.torch_dtype,
                                  trust_remote_code=self.trust_remote_code, cache_dir=self.cache_dir)

    def embed_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        hidden = self.model(**batch, return_dict=True).last_hidden_state
        return pool(hidden, batch["attention_mask"], self.pooling_method)
