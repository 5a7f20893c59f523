"""LangChain's :class:`~langchain_core.documents.BaseDocumentCompressor` over a flagcore reranker."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field, PrivateAttr

from flagcore import AbsReranker
from flagcore.integration import ranked, reranker_from

RELEVANCE_SCORE = "relevance_score"
"""The metadata key of each returned document's score: the name LangChain's other rerankers (Cohere's, FlashRank's)
write, so code reading it works with any of them."""


class FlagcoreRerank(BaseDocumentCompressor):
    """A flagcore reranker as a LangChain document compressor: ``compress_documents(documents, query)`` scores every
    document against the query and returns the best ``top_n`` (``None``: all of them), best first, each a copy of
    the document given with its score in ``metadata["relevance_score"]`` (the documents given are left as they were).

    ``model`` is a model name or path, loaded with ``FlagAutoReranker.from_finetuned(model, **options)``
    (``devices``, ``use_fp16``, ``batch_size``, ``max_length``, ...), or an already-loaded flagcore reranker (then
    with no options). ``normalize``: ``False`` gives raw scores (FlagEmbedding's ``compute_score``), ``True`` the
    sigmoid of them, in (0, 1); ``None`` leaves it to the model (raw, except a sentence-transformers CrossEncoder,
    whose saved activation applies, as in its ``rank``). ``acompress_documents`` is LangChain's: the sync call run
    in an executor thread, off the event loop.
    """

    top_n: int | None = Field(default=3, ge=1)
    normalize: bool | None = False
    _reranker: AbsReranker = PrivateAttr()

    def __init__(self, model: str | os.PathLike[str] | AbsReranker, top_n: int | None = 3,
                 normalize: bool | None = False, **options: Any) -> None:
        # The fields are validated before the model is loaded: a bad top_n fails at once, not after a download.
        super().__init__(top_n=top_n, normalize=normalize)
        self._reranker = reranker_from(model, **options)

    @property
    def model(self) -> AbsReranker:
        """The loaded flagcore reranker (for calls LangChain has no name for, e.g. ``compute_score``)."""
        return self._reranker

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        """The best ``top_n`` of ``documents`` against ``query``, best first, scores in their metadata."""
        if isinstance(documents, (str, Document)):
            raise TypeError("compress_documents takes a list of Documents: wrap a single one in a list")
        documents = list(documents)
        call_options = {} if self.normalize is None else {"normalize": self.normalize}
        best = ranked(self._reranker, query, [document.page_content for document in documents], top_n=self.top_n,
                      **call_options)
        return [_scored(documents[result.index], result.score) for result in best]

    def __repr_args__(self) -> Any:
        yield "model", self._reranker.model_name_or_path
        yield from super().__repr_args__()


def _scored(document: Document, score: float) -> Document:
    """A copy of ``document`` (same id, content and type) whose metadata also holds ``score``."""
    return document.model_copy(update={"metadata": {**document.metadata, RELEVANCE_SCORE: float(score)}})
