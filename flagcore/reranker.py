"""AbsReranker: everything reranker families share. A family only builds the token ids of a
(query, passage) pair and says what one padded batch scores (``score_batch``)."""

from __future__ import annotations

import os
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .inputs import as_pairs, check_bool, check_instruction_format, format_instruction, positive_int, positive_int_or
from .limits import fit_max_length
from .model_base import Columns, InferenceModel
from .outputs import PairScores, PairWork, ScoreStep
from .st.activation import ACTIVATIONS, declared_activation

if TYPE_CHECKING:
    from .engine.devices import DevicesArg
    from .outputs import Ran


@dataclass(frozen=True)
class RankedDocument:
    """One result of :meth:`AbsReranker.rank`: the document's position in the list given, and its score. Unpacks
    as ``index, score = result``."""

    index: int
    score: float

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.score))


class AbsReranker(InferenceModel[PairWork, PairScores]):
    """Base class of every reranker. Arguments and defaults follow FlagEmbedding 1.4.2.

    ``compute_score`` always returns a list of floats, also for a single pair.
    """

    progress_label = ("Scoring", "pair")

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        use_fp16: bool = False,
        query_instruction_for_rerank: str | None = None,
        query_instruction_format: str = "{}{}",
        passage_instruction_for_rerank: str | None = None,
        passage_instruction_format: str = "{}{}",
        devices: DevicesArg = None,
        batch_size: int = 128,
        query_max_length: int | None = None,
        max_length: int = 512,
        normalize: bool = False,
        use_bf16: bool = False,
        trust_remote_code: bool = False,
        cache_dir: str | None = None,
        passage_max_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if passage_max_length is not None:
            # FlagEmbedding's reranker README passes it; FlagEmbedding accepts it and uses it nowhere
            warnings.warn(f"passage_max_length={passage_max_length!r} has no effect on a reranker (FlagEmbedding "
                          f"ignores it too): max_length={max_length} bounds each (query, passage) pair",
                          UserWarning, stacklevel=2)
        super().__init__(
            model_name_or_path, use_fp16=use_fp16, use_bf16=use_bf16, devices=devices,
            batch_size=batch_size, trust_remote_code=trust_remote_code, cache_dir=cache_dir, **kwargs,
        )
        self.query_instruction_for_rerank = query_instruction_for_rerank
        self.query_instruction_format = check_instruction_format(query_instruction_format, "query_instruction_format")
        self.passage_instruction_for_rerank = passage_instruction_for_rerank
        self.passage_instruction_format = check_instruction_format(
            passage_instruction_format, "passage_instruction_format")
        self.query_max_length = None if query_max_length is None else positive_int(query_max_length, "query_max_length")
        self.max_length = positive_int(max_length, "max_length")
        self.normalize = check_bool(normalize, "normalize")
        #: the activation ``normalize=True`` applies: a sentence-transformers CrossEncoder's saved one, else sigmoid
        declared = declared_activation(self.model_name_or_path, cache_dir)
        self.activation: str = declared[0] if declared else "Sigmoid"
        self.activation_source: str | None = declared[1] if declared else None

    # -- what a family provides ------------------------------------------------------------
    @abstractmethod
    def tokenize_pairs(self, pairs: list[tuple[str, str]], query_max_length: int, max_length: int,
                       **options: Any) -> Columns:
        """Model-ready token ids (and masks) of each pair, unpadded. ``options`` are the call's family options
        (``call_options``), as ``score_batch`` gets them."""

    @abstractmethod
    def score_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        """Forward one padded batch (tensors on the device) to a ``(batch,)`` tensor of scores, or ``(batch, k)``
        when each pair gets several scores (see :meth:`arrange_scores`)."""

    def arrange_scores(self, rows: list[list[float]]) -> Any:
        """What ``compute_score`` returns, from each pair's scores in input order (already sigmoid-squashed when
        ``normalize``): by default the one score of each pair, as a list of floats."""
        return [row[0] for row in rows]

    # -- the stages ----------------------------------------------------------------------------------------------
    def prepare_pairs(self, sentence_pairs: Any, batch_size: int | None = None, query_max_length: int | None = None,
                      max_length: int | None = None, normalize: bool | None = None, **kwargs: Any) -> PairWork:
        """The work of :meth:`compute_score` (the pairs with their instructions, tokenized; nothing run)."""
        pairs, _ = as_pairs(sentence_pairs)
        core, family = self._split_call_options(self.compute_score, kwargs)
        max_length = fit_max_length(self, positive_int_or(max_length, self.max_length, "max_length"))
        # by default the query may take three quarters of max_length (at least one token)
        query_max_length = positive_int_or(query_max_length, self.query_max_length or max(max_length * 3 // 4, 1),
                                           "query_max_length")
        normalize = self.normalize if normalize is None else check_bool(normalize, "normalize")
        columns = (self.tokenize_pairs(self._with_instructions(pairs), query_max_length, max_length, **family)
                   if pairs else {"input_ids": []})
        return PairWork(columns, ScoreStep(family), positive_int_or(batch_size, self.batch_size, "batch_size"),
                        normalize=normalize, **core)

    def forward_batch(self, batch: dict[str, Any], step: ScoreStep) -> list[list[float]]:
        scores = self.score_batch(batch, **step.family).float().cpu()
        return scores.reshape(scores.shape[0], -1).tolist()

    def finish(self, work: PairWork, ran: Ran) -> PairScores:
        """Each pair's scores in input order, with the model's activation applied when the call normalizes."""
        rows = [row for batch_rows in ran.batches for row in batch_rows]
        squash = self.activate if work.normalize else float
        return PairScores([[squash(score) for score in rows[i]] for i in ran.order], activated=work.normalize)

    def present(self, work: PairWork, result: PairScores) -> Any:
        """FlagEmbedding's shape: :meth:`arrange_scores` of the rows (an empty list for no pairs)."""
        return self.arrange_scores(result.rows) if result.rows else []

    # -- public call -----------------------------------------------------------------------
    def compute_score(self, sentence_pairs: Any, batch_size: int | None = None, query_max_length: int | None = None,
                      max_length: int | None = None, normalize: bool | None = None, **kwargs: Any) -> Any:
        """Scores of (query, passage) pairs: raw logits, or sigmoid-squashed with ``normalize=True``; a list of
        floats, one per pair (a family scoring several ways, such as the layer-wise rerankers, may say otherwise in
        :meth:`arrange_scores`)."""
        return self.complete(self.prepare_pairs(sentence_pairs, batch_size, query_max_length, max_length, normalize,
                                                **kwargs))

    def _default_max_length(self, query: bool) -> int:
        return int(self.max_length)

    def activate(self, score: float) -> float:
        """One raw score with the model's activation applied (what ``normalize=True`` gives): sigmoid, or the
        activation a sentence-transformers CrossEncoder saved."""
        return ACTIVATIONS[self.activation](score)

    def compute_score_single_gpu(self, sentence_pairs: Any, batch_size: int | None = None,
                                 query_max_length: int | None = None, max_length: int | None = None,
                                 normalize: bool | None = None, device: Any = None, **kwargs: Any) -> Any:
        """FlagEmbedding's name: :meth:`compute_score` on the model's first device only (``device``: that device or
        None)."""
        with self.first_device_only(device):
            return self.compute_score(sentence_pairs, batch_size=batch_size, query_max_length=query_max_length,
                                      max_length=max_length, normalize=normalize, **kwargs)

    def rank(self, query: str, documents: list[str], top_k: int | None = None, **kwargs: Any) -> list[RankedDocument]:
        """The documents ordered by their score against ``query``, best first: ``(index, score)`` pairs, ``index``
        being the position in ``documents`` (a flagcore addition, as sentence-transformers' ``CrossEncoder.rank``).
        ``top_k`` keeps the best ``top_k``; other keywords go to :meth:`compute_score`. A sentence-transformers
        CrossEncoder's scores have its saved activation applied, as its ``rank`` does (``normalize=False``: raw)."""
        if self.activation_source is not None:
            kwargs.setdefault("normalize", True)
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, not {type(query).__name__}")
        if isinstance(documents, str) or not isinstance(documents, (list, tuple)):
            raise TypeError(f"documents must be a list of strings, not {type(documents).__name__}")
        top_k = len(documents) if top_k is None else positive_int(top_k, "top_k")
        scores = self.compute_score([(query, document) for document in documents], **kwargs)
        if scores and isinstance(scores[0], list):
            raise ValueError("rank needs one score per document, and this call gives one per cutoff layer: pass a "
                             "single layer, e.g. cutoff_layers=28")
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [RankedDocument(i, scores[i]) for i in ranked[:top_k]]

    def _with_instructions(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        q_ins, p_ins = self.query_instruction_for_rerank, self.passage_instruction_for_rerank
        if q_ins is None and p_ins is None:
            return pairs
        return [
            (
                format_instruction(self.query_instruction_format, q_ins, q) if q_ins is not None else q,
                format_instruction(self.passage_instruction_format, p_ins, p) if p_ins is not None else p,
            )
            for q, p in pairs
        ]

