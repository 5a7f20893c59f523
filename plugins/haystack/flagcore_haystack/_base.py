"""What every flagcore Haystack component shares: the model it names and the factory options it was given, kept so
that ``to_dict`` / ``from_dict`` (and so ``Pipeline.dumps`` / ``Pipeline.loads``) rebuild it, and the model loaded
once, in ``warm_up`` (Haystack's convention: a pipeline warms its components before the first run)."""

from __future__ import annotations

import os
from dataclasses import replace
from enum import Enum
from typing import Any, Callable, ClassVar

from haystack import Document, default_from_dict, default_to_dict

from flagcore.integration import embedder_from, reranker_from

from ._documents import check_documents, text_of

_PLAIN = (str, int, float, bool, type(None))


class ModelComponent:
    """Mixin of the flagcore components: ``self.model`` (a name or path, or a loaded flagcore model),
    ``self.model_options`` (keywords for ``FlagAutoModel`` / ``FlagAutoReranker.from_finetuned``), and the model,
    loaded on first need. A subclass sets ``_load`` and may add its own ``__init__`` parameters through
    :meth:`_own_parameters` and a check of the loaded model through :meth:`_check_model`."""

    #: builds the model from ``(model, **options)``: a flagcore.integration helper
    _load: ClassVar[Callable[..., Any]]

    def __init__(self, model: str | os.PathLike[str] | Any, **options: Any) -> None:
        """Nothing is loaded here, so building (or loading) a pipeline stays cheap: :meth:`warm_up` loads."""
        self.model = model
        self.model_options = dict(options)
        self._model: Any = None

    def warm_up(self) -> None:
        """Load the model (once; later calls do nothing). ``Pipeline.run`` calls this, and so does ``run``."""
        if self._model is None:
            model = type(self)._load(self.model, **self.model_options)
            self._check_model(model)
            self._model = model

    def _check_model(self, model: Any) -> None:
        """Refuse a model this component cannot use, at warm-up rather than on the first documents."""

    def _warm(self) -> Any:
        self.warm_up()
        return self._model

    def _own_parameters(self) -> dict[str, Any]:
        """The component's ``__init__`` parameters besides ``model`` and the factory options."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The component as Haystack saves it: ``model``, the component's own parameters, then every factory option
        as a parameter of its own, so the saved pipeline reads as the constructor call."""
        if not isinstance(self.model, str) and not hasattr(self.model, "__fspath__"):
            raise TypeError(f"{type(self).__name__} was built from a loaded {type(self.model).__name__}, which a "
                            "pipeline file cannot hold: pass the model's name or path (and its options) to save it")
        options = {name: _plain(type(self).__name__, name, value) for name, value in self.model_options.items()}
        return default_to_dict(self, model=os.fspath(self.model), **self._own_parameters(), **options)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The component ``to_dict`` saved. A factory option that looks like a saved object (``{"type":
        "package.Class", ...}``) is refused: Haystack would import that class, and these options are plain data."""
        for name, value in data.get("init_parameters", {}).items():
            if isinstance(value, dict) and "." in str(value.get("type", "")):
                raise ValueError(f"{cls.__name__}: parameter {name!r} holds a serialized object "
                                 f"({value['type']!r}); flagcore options are plain values: remove it or fix the file")
        return default_from_dict(cls, data)


def _plain(component: str, name: str, value: Any) -> Any:
    """``value`` as YAML-safe data (an enum as its value, a path as a string), or a TypeError naming the option."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, _PLAIN):
        return value
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(component, name, item) for item in value)
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _plain(component, name, item) for key, item in value.items()}
    raise TypeError(f"{component}: option {name}={value!r} cannot be saved in a pipeline file: give it as a string, "
                    "number, bool, None, list or dict (e.g. devices='cuda:0' rather than a torch.device)")


class EmbedderComponent(ModelComponent):
    """A component holding a flagcore embedder (``FlagAutoModel.from_finetuned``)."""

    _load = staticmethod(embedder_from)


class RerankerComponent(ModelComponent):
    """A component holding a flagcore reranker (``FlagAutoReranker.from_finetuned``)."""

    _load = staticmethod(reranker_from)


class DocumentEmbedderComponent(EmbedderComponent):
    """A document embedder: each document's text (its content, after the ``meta_fields_to_embed`` it has) embedded
    on the passage side, and the vector set on a copy of the document (Haystack's documents are not changed in
    place). A subclass names the field (``_output_field``) and computes the vectors (:meth:`_vectors`)."""

    _output_field: ClassVar[str]
    _text_component: ClassVar[str]

    def __init__(self, model: str | os.PathLike[str] | Any, *, meta_fields_to_embed: list[str] | None = None,
                 embedding_separator: str = "\n", **options: Any) -> None:
        super().__init__(model, **options)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def _own_parameters(self) -> dict[str, Any]:
        return {"meta_fields_to_embed": self.meta_fields_to_embed, "embedding_separator": self.embedding_separator}

    def _vectors(self, model: Any, texts: list[str]) -> list[Any]:
        raise NotImplementedError

    def _embedded(self, documents: list[Document]) -> dict[str, list[Document]]:
        check_documents(type(self).__name__, documents, self._text_component)
        model = self._warm()
        texts = [text_of(document, self.meta_fields_to_embed, self.embedding_separator) for document in documents]
        vectors = self._vectors(model, texts)
        return {"documents": [replace(document, **{self._output_field: vector})
                              for document, vector in zip(documents, vectors, strict=True)]}
