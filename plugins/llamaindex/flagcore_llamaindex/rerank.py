"""flagcore's rerankers as a LlamaIndex node postprocessor, taking the arguments of llama-index's
``FlagEmbeddingReranker`` (``model``, ``top_n``, ``use_fp16``)."""

from __future__ import annotations

import os
from typing import Any, List, Union

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from flagcore import AbsReranker
from flagcore.integration import ranked, reranker_from

from ._common import model_lock, split_options

dispatcher = get_dispatcher(__name__)

ModelArg = Union[str, "os.PathLike[str]", AbsReranker]


class FlagcoreRerank(BaseNodePostprocessor):
    """Rerank retrieved nodes with any reranker flagcore resolves (BGE cross-encoders, LLM and layer-wise
    rerankers, sentence-transformers CrossEncoders) and keep the best ``top_n``.

    ``model``: a model name or path (first, positionally or as keyword), or an already-loaded flagcore reranker.
    ``top_n`` and ``use_fp16`` as in ``FlagEmbeddingReranker``. ``normalize=True``: scores squashed to (0, 1)
    (sigmoid); left at None, scores are raw, as FlagEmbedding's ``compute_score`` gives them. ``callback_manager``
    goes to LlamaIndex; every other keyword argument to ``FlagAutoReranker.from_finetuned`` (``devices``,
    ``batch_size``, ``max_length``, ``use_bf16``, ...).

    Each node is scored on its content as LlamaIndex's rerankers read it (``MetadataMode.EMBED``); every node given
    gets its new score, and the best ``top_n`` come back, best first.
    """

    model: str = Field(description="The reranker's model name or path.")
    top_n: int = Field(default=2, gt=0, description="Number of nodes to return, best first.")
    use_fp16: bool = Field(default=False, description="Whether the model was loaded in float16.")
    normalize: bool | None = Field(default=None, description="Sigmoid-squashed scores (True) or raw (None).")
    _model: AbsReranker = PrivateAttr()

    def __init__(self, model: ModelArg = "BAAI/bge-reranker-large", top_n: int = 2, use_fp16: bool = False,
                 normalize: bool | None = None, **options: Any) -> None:
        if isinstance(model, int):
            raise TypeError(f"FlagcoreRerank takes the model first (got {model!r}): FlagEmbeddingReranker's "
                            "positional order was (top_n, model); pass top_n=... and model=... as keywords")
        llama_fields, factory_options = split_options(BaseNodePostprocessor, options)
        # validate top_n & co. before spending time on loading the model
        super().__init__(model=model if isinstance(model, str) else "", top_n=top_n, use_fp16=use_fp16,
                         normalize=normalize, **llama_fields)
        # FlagEmbeddingReranker loads its model with use_fp16; a loaded model keeps its own precision, so with one
        # only an explicit use_fp16=True is passed on (and refused by reranker_from)
        if use_fp16 or not isinstance(model, AbsReranker):
            factory_options["use_fp16"] = use_fp16
        self._model = reranker_from(model, **factory_options)
        self.model = str(self._model.model_name_or_path)

    @classmethod
    def class_name(cls) -> str:
        return "FlagcoreRerank"

    @property
    def flagcore_model(self) -> AbsReranker:
        """The flagcore reranker behind this postprocessor."""
        return self._model

    def _postprocess_nodes(self, nodes: List[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> List[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("FlagcoreRerank needs the query to rerank against: call postprocess_nodes(nodes, "
                             "query_bundle=QueryBundle(query)) or postprocess_nodes(nodes, query_str=query), or use "
                             "it in a query engine's node_postprocessors")
        dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model))
        if not nodes:
            dispatcher.event(ReRankEndEvent(nodes=[]))
            return []
        texts = [node.node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
        call_options = {} if self.normalize is None else {"normalize": self.normalize}
        payload = {EventPayload.NODES: nodes, EventPayload.MODEL_NAME: self.model,
                   EventPayload.QUERY_STR: query_bundle.query_str, EventPayload.TOP_K: self.top_n}
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            with model_lock(self._model):
                order = ranked(self._model, query_bundle.query_str, texts, **call_options)
            for result in order:
                nodes[result.index].score = result.score
            best = [nodes[result.index] for result in order[:self.top_n]]
            event.on_end(payload={EventPayload.NODES: best})
        dispatcher.event(ReRankEndEvent(nodes=best))
        return best
