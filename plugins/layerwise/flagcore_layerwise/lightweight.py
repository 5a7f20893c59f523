"""LightweightReranker (``decoder-only-lightweight``): FlagEmbedding's LightWeightFlagLLMReranker
(bge-reranker-v2.5-gemma2-lightweight), without remote code.

Pairs are laid out as for the layer-wise reranker (BOS always) with its own default prompt; batches are padded on
the right whatever the tokenizer says (the compression needs it). The model is this family's own implementation
(:mod:`flagcore_layerwise.costwise_gemma`). Besides ``cutoff_layers``:

- ``compress_ratio`` (default 1: no compression): a whole number; before each of ``compress_layers`` the passage
  tokens are mean-pooled in groups of that many, so the layers above run on shorter sequences;
- ``compress_layers`` (default ``[8]``): an int or a list, each in ``[0, num_hidden_layers - 1]``; layer 0 never
  compresses (FlagEmbedding's rule, warned), and a compression at or above the highest cutoff layer has nothing
  left to speed up. ``compress_layer=`` at call time is FlagEmbedding's deprecated spelling; it still works, with a
  ``FutureWarning`` and the same checks; given together with ``compress_layers=`` it is a ``ValueError``.
"""

from __future__ import annotations

import warnings
from typing import Any

from .costwise_gemma import load_costwise_gemma
from .reranker import LayerWiseReranker

DEFAULT_PROMPT = "Predict whether passage B contains an answer to query A."
DEFAULT_COMPRESS_LAYERS = (8,)


class LightweightReranker(LayerWiseReranker):
    """A score per cutoff layer of the token-compressing Gemma2 reranker."""

    call_options = frozenset({"prompt", "cutoff_layers", "compress_ratio", "compress_layers", "compress_layer"})
    default_prompt = DEFAULT_PROMPT
    load_weights = staticmethod(load_costwise_gemma)

    def __init__(self, model_name_or_path: str, cutoff_layers: int | list[int] | None = None,
                 compress_ratio: int = 1, compress_layers: int | list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(model_name_or_path, cutoff_layers=cutoff_layers, **kwargs)
        self.compress_ratio = self.check_compress_ratio(compress_ratio)
        self.compress_layers = self.check_compress_layers(compress_layers, self.compress_ratio)

    @property
    def padding_side(self) -> str:
        return "right"  # compression pools each row's passage span; FlagEmbedding forces right padding too

    def check_compress_ratio(self, ratio: Any) -> int:
        if isinstance(ratio, bool) or not isinstance(ratio, int):
            if isinstance(ratio, float) and ratio.is_integer() and ratio >= 1:
                return int(ratio)
            raise TypeError(f"compress_ratio must be a whole number >= 1 (1 = no compression), not {ratio!r}")
        if ratio < 1:
            raise ValueError(f"compress_ratio must be >= 1 (1 = no compression; 2 pools every two passage tokens "
                             f"into one), got {ratio}")
        return ratio

    def check_compress_layers(self, layers: Any, ratio: int, argument: str = "compress_layers") -> list[int]:
        """The layers before which passages are compressed, each in ``[0, num_hidden_layers - 1]``; ``argument``
        names them in messages."""
        last = self.model.num_layers - 1
        if layers is None:
            defaults = list(DEFAULT_COMPRESS_LAYERS)
            if ratio > 1 and all(layer > last for layer in defaults):
                warnings.warn(f"compress_ratio={ratio} has no effect: the default compress_layers {defaults} lie "
                              f"past the last layer ({last}) of {self.model_name_or_path}; pass compress_layers",
                              UserWarning, stacklevel=3)
            return defaults
        items = [layers] if isinstance(layers, int) else layers
        if not isinstance(items, (list, tuple)) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in items):
            raise TypeError(f"{argument} must be an int or a list of ints, not {layers!r}")
        outside = [c for c in items if not 0 <= c <= last]
        if outside:
            raise ValueError(f"{argument} {outside} are outside [0, {last}]: a compression runs before one of "
                             f"the {last + 1} layers of {self.model_name_or_path}")
        if ratio > 1 and 0 in items:
            warnings.warn("compress layer 0 is ignored: passages are never compressed before the first layer "
                          "(FlagEmbedding's rule)", UserWarning, stacklevel=3)
        return sorted(set(items))

    def prepare_pairs(self, sentence_pairs: Any, *args: Any, **kwargs: Any) -> Any:
        argument = "compress_layers"
        if "compress_layer" in kwargs:
            warnings.warn("compress_layer= is deprecated (as in FlagEmbedding); use compress_layers=",
                          FutureWarning, stacklevel=3)
            alias = kwargs.pop("compress_layer")
            if alias is not None:
                if kwargs.get("compress_layers") is not None:
                    raise ValueError(f"compress_layer={alias!r} and compress_layers={kwargs['compress_layers']!r} "
                                     "are both given: pass only compress_layers (compress_layer is its deprecated "
                                     "spelling)")
                kwargs["compress_layers"], argument = alias, "compress_layer"
        ratio = kwargs.get("compress_ratio")
        if ratio is not None:
            kwargs["compress_ratio"] = self.check_compress_ratio(ratio)
        if kwargs.get("compress_layers") is not None:
            kwargs["compress_layers"] = self.check_compress_layers(
                kwargs["compress_layers"], kwargs.get("compress_ratio") or self.compress_ratio, argument)
        return super().prepare_pairs(sentence_pairs, *args, **kwargs)

    def tokenize_pairs(self, pairs: list[tuple[str, str]], query_max_length: int, max_length: int,
                       prompt: str | None = None, **options: Any) -> dict[str, list[list[int]]]:
        rows, passage_masks = [], []
        for first, second, tail in self.pair_parts(pairs, query_max_length, max_length, prompt):
            row = first + second + tail
            # FlagEmbedding's spans: the query part runs through the first separator, the tail is separator + prompt
            query = len(first) + len(self._separator)
            passage = max(len(row) - query - len(tail), 0)
            rows.append(row)
            passage_masks.append([0] * query + [1] * passage + [0] * (len(row) - query - passage))
        return {"input_ids": rows, "attention_mask": [[1] * len(row) for row in rows], "passage_mask": passage_masks}

    def score_batch(self, batch: dict[str, Any], cutoff_layers: list[int] | None = None,
                    compress_ratio: int | None = None, compress_layers: list[int] | None = None,
                    **options: Any) -> Any:
        return self.model(batch["input_ids"], batch["attention_mask"], batch["passage_mask"],
                          cutoff_layers or self.cutoff_layers, compress_ratio or self.compress_ratio,
                          self.compress_layers if compress_layers is None else compress_layers)
