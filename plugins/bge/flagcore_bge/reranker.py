"""CrossEncoderReranker (``encoder-only-base``): FlagEmbedding's FlagReranker on the shared machinery."""

from __future__ import annotations

from typing import Any

from flagcore.family import AbsReranker, PairTemplate, check_local_model, load_config, load_pretrained


class CrossEncoderReranker(AbsReranker):
    """Scores a (query, passage) pair with the single logit of a sequence-classification encoder.

    Query and passage are tokenised separately without special tokens (the query truncated to
    ``query_max_length``), then joined with the model's own pair template, the passage trimmed so the
    pair fits ``max_length``.
    """

    backends = ("torch", "openvino")

    def __init__(self, model_name_or_path: str, **kwargs: Any) -> None:
        super().__init__(model_name_or_path, **kwargs)
        check_local_model(self.model_name_or_path)  # before reading config.json
        config = load_config(self.model_name_or_path, trust_remote_code=self.trust_remote_code,
                             cache_dir=self.cache_dir)
        architectures = list(getattr(config, "architectures", None) or [])
        if architectures and not any(a.endswith("ForSequenceClassification") for a in architectures):
            raise ValueError(f"{self.model_name_or_path} is a {', '.join(architectures)} (config.json architectures) "
                             "with no classification head: it is not a cross-encoder reranker, and scoring with it "
                             "would use a randomly initialised head. Load it with FlagAutoModel as an embedder, or "
                             "use a reranker checkpoint (a ...ForSequenceClassification with one label)")
        if config.num_labels != 1:  # checked before the weights, whose head would not fit the config
            raise ValueError(f"{self.model_name_or_path} has {config.num_labels} output labels; a cross-encoder "
                             "reranker needs a single relevance logit (num_labels=1)")
        self.tokenizer, self.model = load_pretrained(self, "AutoModelForSequenceClassification", config=config)
        self.template = PairTemplate.of(self.tokenizer)
        self._with_types = "token_type_ids" in (self.tokenizer.model_input_names or [])

    def tokenize_pairs(self, pairs: list[tuple[str, str]], query_max_length: int, max_length: int,
                       **options: Any) -> dict[str, list[list[int]]]:
        queries = self.tokenizer([q for q, _ in pairs], add_special_tokens=False, truncation=True,
                                 max_length=query_max_length)["input_ids"]
        passages = self.tokenizer([p for _, p in pairs], add_special_tokens=False, truncation=True,
                                  max_length=max_length)["input_ids"]
        side = getattr(self.tokenizer, "truncation_side", "right")
        built = [self.template.build(q, p, max_length, side) for q, p in zip(queries, passages, strict=True)]
        columns = {"input_ids": [ids for ids, _ in built], "attention_mask": [[1] * len(ids) for ids, _ in built]}
        if self._with_types:
            columns["token_type_ids"] = [types for _, types in built]
        return columns

    def score_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        return self.model(**batch, return_dict=True).logits.view(-1)
