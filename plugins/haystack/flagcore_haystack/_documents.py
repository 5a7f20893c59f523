"""The text a component sends to the model for a Haystack ``Document``, and the input checks all components share."""

from __future__ import annotations

from typing import Any

from haystack import Document


def check_text(component: str, text: Any, documents_component: str) -> None:
    """A text embedder given documents (a common wiring slip) fails here, naming the component that takes them."""
    if not isinstance(text, str):
        raise TypeError(f"{component} embeds one string (a query), not {type(text).__name__}: "
                        f"to embed a list of Documents use {documents_component}")


def check_documents(component: str, documents: Any, text_component: str | None = None) -> None:
    """``documents`` must be a list of Documents; a string is pointed to the text embedder when there is one."""
    if isinstance(documents, list) and all(isinstance(document, Document) for document in documents):
        return
    hint = f": to embed a string use {text_component}" if text_component else ""
    raise TypeError(f"{component} takes a list of Documents, not {type(documents).__name__}{hint}")


def text_of(document: Document, meta_fields_to_embed: list[str], embedding_separator: str) -> str:
    """The document's content preceded by the listed meta fields it has (as Haystack's document embedders join
    them), so a title or a source can weigh in the vector or the score."""
    meta = [str(document.meta[key]) for key in meta_fields_to_embed if document.meta.get(key) is not None]
    return embedding_separator.join([*meta, document.content or ""])


def unique_by_id(documents: list[Document]) -> list[Document]:
    """One document per id, the highest-scored of its copies (Haystack's rankers do the same): results joined from
    several retrievers would otherwise be scored, and returned, more than once."""
    kept: dict[str, Document] = {}
    for document in documents:
        previous = kept.get(document.id)
        if previous is None or _score(document) > _score(previous):
            kept[document.id] = document
    return list(kept.values())


def _score(document: Document) -> float:
    return float("-inf") if document.score is None else document.score
