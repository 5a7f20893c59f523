"""What every framework adapter (LangChain, LlamaIndex, Haystack, MTEB) needs from flagcore, defined once: a model
from a name or an already-loaded instance, a side's dense vectors as plain lists, a side's sparse vectors as
``(indices, values)``, and the documents ranked against a query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .embedder import AbsEmbedder
from .outputs import DENSE, SPARSE
from .reranker import AbsReranker, RankedDocument

__all__ = ["DENSE", "SPARSE", "SparseVector", "dense_lists", "embedder_from", "ranked", "reranker_from",
           "sparse_vectors"]


def embedder_from(model: str | AbsEmbedder, **factory_options: Any) -> AbsEmbedder:
    """``model`` itself when it is a loaded embedder (then no factory options may be given), else
    ``FlagAutoModel.from_finetuned(model, **factory_options)``."""
    from .auto import FlagAutoModel

    return _loaded_or_made(model, AbsEmbedder, FlagAutoModel.from_finetuned, factory_options)


def reranker_from(model: str | AbsReranker, **factory_options: Any) -> AbsReranker:
    """``model`` itself when it is a loaded reranker (then no factory options may be given), else
    ``FlagAutoReranker.from_finetuned(model, **factory_options)``."""
    from .auto import FlagAutoReranker

    return _loaded_or_made(model, AbsReranker, FlagAutoReranker.from_finetuned, factory_options)


def _loaded_or_made(model: Any, base: type, factory: Any, options: dict[str, Any]) -> Any:
    if isinstance(model, base):
        if options:
            raise TypeError(f"{sorted(options)} given with an already-loaded {type(model).__name__}: pass a model "
                            "name or path to load it with these options, or load it with them yourself")
        return model
    if not isinstance(model, str) and not hasattr(model, "__fspath__"):
        raise TypeError(f"model must be a model name or path (or a loaded flagcore {base.__name__}), "
                        f"not {type(model).__name__}")
    return factory(str(model), **options)


def dense_lists(model: AbsEmbedder, texts: list[str], *, query: bool, **call_options: Any) -> list[list[float]]:
    """The dense vectors of ``texts`` as lists of floats: queries with the model's query instruction or prompt
    (``query=True``), else passages with the passage one; ``call_options`` go to the prepare stage (``batch_size``,
    ``max_length``, ``prompt_name``...)."""
    if not _texts(texts):
        return []
    work = model.prepare_side(list(texts), query=query, outputs=(DENSE,), **call_options)
    return model.infer(work).dense.tolist()


def _texts(texts: Any, name: str = "texts") -> list[str]:
    """``texts`` as a list, refusing one string (a list of its characters is never what was meant)."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of strings, not one string: pass [{name[:-1]}]")
    return list(texts)


@dataclass(frozen=True)
class SparseVector:
    """One text's sparse (lexical) vector: token ids, ascending, and their weights."""

    indices: list[int]
    values: list[float]


def sparse_vectors(model: AbsEmbedder, texts: list[str], *, query: bool, **call_options: Any) -> list[SparseVector]:
    """The sparse (lexical) vectors of ``texts``, for a model that gives them (BGE-M3); any other is refused with
    the outputs it has."""
    if SPARSE not in model.available_outputs:
        raise ValueError(f"{model.model_name_or_path} gives no sparse vectors ({type(model).__name__} gives "
                         f"{sorted(model.available_outputs)}): use a model with a sparse head, such as BGE-M3")
    if not _texts(texts):
        return []
    work = model.prepare_side(list(texts), query=query, outputs=(SPARSE,), **call_options)
    vectors = []
    for weights in model.infer(work).sparse:
        pairs = sorted((int(token), float(weight)) for token, weight in weights.items())
        vectors.append(SparseVector([token for token, _ in pairs], [weight for _, weight in pairs]))
    return vectors


def ranked(model: AbsReranker, query: str, documents: list[str], top_n: int | None = None,
           **call_options: Any) -> list[RankedDocument]:
    """The documents ordered by score against ``query``, best first (``top_n``: only the best ones); scores as
    :meth:`~flagcore.AbsReranker.rank` gives them (raw, as FlagEmbedding's ``compute_score``, unless
    ``normalize=True``; a sentence-transformers CrossEncoder's with its saved activation)."""
    if not _texts(documents, "documents"):
        return []
    return model.rank(query, list(documents), top_k=top_n, **call_options)
