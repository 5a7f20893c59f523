"""LayerWiseReranker (``decoder-only-layerwise``): FlagEmbedding's LayerWiseFlagLLMReranker, without remote code.

Pairs are laid out as for the LLM reranker (``flagcore_llm``), except that the BOS token is always prepended. The
model is this family's own implementation of the checkpoint's architecture (:mod:`flagcore_layerwise.minicpm`).
``cutoff_layers`` (constructor or call; an int or a list) picks the layers a score is read at: one layer gives a
list of floats, several give one list per layer, in ascending layer order. Layers outside
``[start_layer, num_hidden_layers]`` are dropped with a warning, as FlagEmbedding does; none left is a
``ValueError``. The constructor's default is the last layer; a call's default (``None``) is the constructor's layers.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from flagcore_llm.loading import merge_adapter
from flagcore_llm.reranker import LLMReranker, real_positions

from flagcore.family import load_tokenizer, local_model_folder

from .minicpm import load_layerwise_minicpm


class LayerWiseReranker(LLMReranker):
    """A score per cutoff layer; layers above the highest cutoff are not computed."""

    call_options = frozenset({"prompt", "cutoff_layers"})
    always_bos = True
    #: builds this class's model from a checkpoint folder and a torch dtype
    load_weights: Callable[..., Any] = staticmethod(load_layerwise_minicpm)

    def __init__(self, model_name_or_path: str, cutoff_layers: int | list[int] | None = None,
                 use_fp16: bool = False, use_bf16: bool = False, **kwargs: Any) -> None:
        # FlagEmbedding: "use_bf16 and use_fp16 cannot both be False" (half precision off the CPU; a CPU stays fp32)
        super().__init__(model_name_or_path, use_fp16=use_fp16 or not use_bf16, use_bf16=use_bf16, **kwargs)
        self.cutoff_layers = self.check_cutoff_layers(cutoff_layers)

    def load_model(self, peft_path: str | None) -> tuple[Any, Any]:
        folder = local_model_folder(self.model_name_or_path, self.cache_dir)  # a hub id: its cached snapshot
        tokenizer = load_tokenizer(str(folder), trust_remote_code=False, cache_dir=self.cache_dir)
        model = self.load_weights(folder, self.torch_dtype)
        if peft_path is not None:
            model = merge_adapter(model, peft_path)
        return tokenizer, model

    def check_cutoff_layers(self, cutoff_layers: Any) -> list[int]:
        """Ascending, distinct layers among the model's cutoff choices; the last layer by default."""
        choices = self.model.cutoff_choices
        allowed = f"[{choices[0]}, {choices[-1]}]" if choices.step == 1 else f"{list(choices)}"
        if cutoff_layers is None:
            return [choices[-1]]
        items = [cutoff_layers] if isinstance(cutoff_layers, int) else cutoff_layers
        if not isinstance(items, (list, tuple)) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in items):
            raise TypeError(f"cutoff_layers must be an int or a list of ints, not {cutoff_layers!r}")
        outside = [c for c in items if c not in choices]
        if outside:
            warnings.warn(f"cutoff_layers {outside} are outside {allowed} (the layers with a score head) of "
                          f"{self.model_name_or_path}; they are dropped", UserWarning, stacklevel=3)
        kept = sorted({c for c in items if c in choices})
        if not kept:
            raise ValueError(f"no cutoff layer left: cutoff_layers must lie in {allowed}, got {cutoff_layers!r}")
        return kept

    def prepare_pairs(self, sentence_pairs: Any, *args: Any, **kwargs: Any) -> Any:
        if "cutoff_layers" in kwargs:
            layers = kwargs["cutoff_layers"]  # None: the constructor's layers, as FlagEmbedding does
            kwargs["cutoff_layers"] = self.cutoff_layers if layers is None else self.check_cutoff_layers(layers)
        return super().prepare_pairs(sentence_pairs, *args, **kwargs)

    def score_batch(self, batch: dict[str, Any], cutoff_layers: list[int] | None = None, **options: Any) -> Any:
        return self.model(batch["input_ids"], batch["attention_mask"], real_positions(batch["attention_mask"]),
                          cutoff_layers or self.cutoff_layers)

    def arrange_scores(self, rows: list[list[float]]) -> Any:
        per_layer = [list(column) for column in zip(*rows, strict=True)] if rows else [[]]
        return per_layer[0] if len(per_layer) == 1 else per_layer
