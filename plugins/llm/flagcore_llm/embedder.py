"""LLMEmbedder (``decoder-only-base``): FlagEmbedding's FlagLLMModel on the shared machinery.

The text is tokenised as the model's tokenizer does it (its own BOS/EOS post-processing, right truncation), the
batch is padded on the tokenizer's padding side, and the embedding is the hidden state of each text's last real
token, then truncated to ``truncate_dim`` and L2-normalised by the base class.

One deliberate difference from running FlagEmbedding's code on transformers 5: a tokenizer whose
tokenizer_config.json says ``add_eos_token: true`` (e5-mistral, SFR-Embedding-Mistral) gets its EOS appended here,
because transformers 5 no longer does it; the model then sees the sequence it was trained on, the one FlagEmbedding
1.4.2 feeds it on transformers 4.
"""

from __future__ import annotations

from typing import Any

from flagcore.family import AbsEmbedder

from .claims import DEFAULT_QUERY_FORMAT, LAST_TOKEN
from .loading import declared_eos_lost, load_decoder


class LLMEmbedder(AbsEmbedder):
    """A decoder-only transformer pooled by its last real token (left or right padding)."""

    #: extra forward arguments: no key/value cache is built for a single forward pass
    forward_options: dict[str, Any] = {"use_cache": False}
    #: a decoder token costs ~10x a MiniLM token and the GEMM rate is the same at 512 as at 2048 padded tokens a
    #: batch, so smaller batches only save padding (SmolLM2 on a CPU: 6.5 s instead of 8.7 s, docs/benchmarks.md)
    default_cpu_batch_tokens = 512
    pooling_methods = (LAST_TOKEN,)
    default_pooling_method = LAST_TOKEN
    backends = ("torch", "openvino")
    #: under SDPA, fully masked rows of left padding become NaN in OpenVINO (see flagcore's TraceOptions)
    openvino_attention = "eager"

    def __init__(self, model_name_or_path: str, query_instruction_format: str = DEFAULT_QUERY_FORMAT,
                 **kwargs: Any) -> None:
        super().__init__(model_name_or_path, query_instruction_format=query_instruction_format, **kwargs)
        self.tokenizer, self.model = load_decoder(self, "AutoModel")
        self.append_eos = declared_eos_lost(self.tokenizer, self.model_name_or_path)

    def tokenize(self, texts: list[str], max_length: int) -> dict[str, list[list[int]]]:
        if not self.append_eos:
            return super().tokenize(texts, max_length)
        # room for the EOS, as a tokenizer that appends it truncates
        columns = super().tokenize(texts, max(max_length - 1, 1))
        eos = self.tokenizer.eos_token_id
        return {key: [row + [eos if key == "input_ids" else 1 if key == "attention_mask" else 0] for row in rows]
                for key, rows in columns.items()}

    def token_embeddings(self, batch: dict[str, Any], **forward: Any) -> Any:
        """The last layer's hidden states of a padded batch."""
        return self.model(**batch, return_dict=True, **self.forward_options, **forward).last_hidden_state
