"""What the stages of a call hand to each other and to the front ends: a call's prepared work (:class:`Work`), the
typed result of an embedder (:class:`Embeddings`) and of a reranker (:class:`PairScores`), and the names of the
outputs an embedder can declare. FlagEmbedding's shapes (an array, M3's dict, a list of floats) are made from these
at the public API's edge only."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .engine.padding import Columns
from .st.route import Route

if TYPE_CHECKING:
    import numpy as np

#: one vector per text (every embedder)
DENSE = "dense"
#: one ``{token id: weight}`` dict per text (lexical weights, as BGE-M3's)
SPARSE = "sparse"
#: one ``(tokens, d)`` array per text from a trained multi-vector head (BGE-M3's ColBERT vectors)
MULTI_VECTOR = "multi_vector"
#: one ``(tokens, hidden)`` array per text: the transformer's last hidden state at every real token
TOKEN_EMBEDDINGS = "token_embeddings"
OUTPUT_KINDS: tuple[str, ...] = (DENSE, SPARSE, MULTI_VECTOR, TOKEN_EMBEDDINGS)
DENSE_ONLY: frozenset[str] = frozenset({DENSE})


def check_outputs(requested: Iterable[str] | str, available: frozenset[str], model: str) -> frozenset[str]:
    """``requested`` as a set of output names, refused when empty, unknown or not among what ``model`` gives."""
    names = frozenset([requested] if isinstance(requested, str) else requested)
    unknown = sorted(names - set(OUTPUT_KINDS))
    if unknown or not names:
        raise ValueError(f"outputs={sorted(names)!r}: ask for some of {list(OUTPUT_KINDS)}")
    missing = sorted(names - available)
    if missing:
        raise ValueError(f"{model} gives {sorted(available)} outputs, not {missing}")
    return names


# -- the steps a batch runs (picklable: worker processes run them on their copy of the model) --------------------
@dataclass(frozen=True)
class EmbedStep:
    """What one padded batch of an embedding call runs with: the family's call options, whether the result leaves
    as numpy, and the call's route (task and prompt length) for a sentence-transformers module chain."""

    family: dict[str, Any] = field(default_factory=dict)
    to_numpy: bool = True
    route: Route = field(default_factory=Route)
    outputs: frozenset[str] = DENSE_ONLY


@dataclass(frozen=True)
class ScoreStep:
    """What one padded batch of a scoring call runs with: the family's call options."""

    family: dict[str, Any] = field(default_factory=dict)


# -- prepared work -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Work:
    """One call after the ``prepare`` stage: its rows' token columns (unpadded, in input order) and everything the
    ``run`` and ``finish`` stages need. Works with the same step (the same options) may be joined into one run."""

    columns: Columns
    step: EmbedStep | ScoreStep
    batch_size: int
    single: bool = False
    pad_to_multiple_of: int | None = None
    show_progress_bar: bool | None = None

    @property
    def rows(self) -> int:
        return len(self.columns["input_ids"])

    @property
    def tokens(self) -> int:
        return sum(len(ids) for ids in self.columns["input_ids"])

    def joined(self, others: Sequence[Work]) -> Work:
        """This work and ``others`` as one (rows in that order): they must have been prepared alike."""
        for other in others:
            if other.step != self.step or type(other) is not type(self):
                raise ValueError("only works prepared with the same options can run together")
        names = self.columns.keys()
        columns = {name: [row for work in (self, *others) for row in work.columns[name]] for name in names}
        return replace(self, columns=columns, single=False)


@dataclass(frozen=True)
class EmbedWork(Work):
    """An embedding call's work: ``outputs`` it returns, ``to_numpy`` for numpy arrays (else tensors), and the
    ``precision`` of its dense rows (``ranges``: their int8/uint8 calibration; :mod:`flagcore.embedding_precision`)."""

    to_numpy: bool = True
    outputs: frozenset[str] = DENSE_ONLY
    precision: str = "float32"
    ranges: Any = None


@dataclass(frozen=True)
class PairWork(Work):
    """A scoring call's work: ``normalize`` applies the model's activation to the scores."""

    normalize: bool = False


@dataclass(frozen=True)
class Ran:
    """The ``run`` stage's result: each batch's output in run order, and ``order``: ``ran[order]`` is input order."""

    batches: list[Any]
    order: np.ndarray


# -- typed results -----------------------------------------------------------------------------------------------
@dataclass
class Embeddings:
    """What an embedder computed, row by row in input order; None for an output the call did not ask for.

    ``dense``: an ``(n, d)`` numpy array (or torch tensor); ``sparse``: one ``{token id: weight}`` dict per text;
    ``multi_vector``: one ``(tokens, d)`` array per text (a trained multi-vector head's); ``token_embeddings``: one
    ``(tokens, hidden)`` array per text (the transformer's own token vectors). A family's ``embed_batch`` may return
    one of these for a batch (its dense part a tensor, still to be truncated and normalised by the core) instead of a
    dense tensor.
    """

    dense: Any = None
    sparse: list[dict[str, float]] | None = None
    multi_vector: list[Any] | None = None
    token_embeddings: list[Any] | None = None

    def output(self, kind: str) -> Any:
        """The output named ``kind`` (:data:`DENSE`, :data:`SPARSE` or :data:`MULTI_VECTOR`)."""
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"no output {kind!r}: outputs are {list(OUTPUT_KINDS)}")
        return getattr(self, kind)

    def __len__(self) -> int:
        given: Any = next((getattr(self, kind) for kind in OUTPUT_KINDS if getattr(self, kind) is not None), [])
        return len(given)

    def rows(self, start: int, stop: int) -> Embeddings:
        """Rows ``start`` to ``stop`` of every output."""
        return Embeddings(*(None if part is None else part[start:stop]
                            for part in (self.dense, self.sparse, self.multi_vector, self.token_embeddings)))

    @classmethod
    def joined(cls, batches: Sequence[Embeddings], order: np.ndarray) -> Embeddings:
        """The batches' rows as one result, reordered by ``order`` (``joined[i] = ran[order[i]]``)."""
        first = batches[0]
        dense = None
        if first.dense is not None:
            dense = _joined_rows([b.dense for b in batches], order)
        lists = {}
        for kind in (SPARSE, MULTI_VECTOR, TOKEN_EMBEDDINGS):
            if getattr(first, kind) is not None:
                ran = [item for b in batches for item in getattr(b, kind)]
                lists[kind] = [ran[i] for i in order]
        return cls(dense, lists.get(SPARSE), lists.get(MULTI_VECTOR), lists.get(TOKEN_EMBEDDINGS))


def _joined_rows(parts: list[Any], order: np.ndarray) -> Any:
    import numpy as np

    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=0)[order]
    import torch

    return torch.cat(parts, dim=0)[torch.as_tensor(order, device=parts[0].device)]


@dataclass
class PairScores:
    """What a reranker computed: each pair's scores in input order (one, or one per cutoff layer, lowest layer
    first), raw or with the model's activation applied (``activated``)."""

    rows: list[list[float]]
    activated: bool = False

    @property
    def final(self) -> list[float]:
        """One score per pair: its only score, or the one at its highest cutoff layer."""
        return [row[-1] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)
