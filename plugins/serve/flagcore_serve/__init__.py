"""flagcore-serve: an HTTP server for flagcore models (``flagcore serve``). Importing it imports neither FastAPI nor
torch; :func:`create_app` builds the ASGI application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
from .settings import ServeSettings

if TYPE_CHECKING:
    from .models import ServedModel

__all__ = ["ServeSettings", "create_app", "load_models"]


def create_app(models: list[ServedModel], settings: ServeSettings | None = None) -> Any:
    """The FastAPI application serving ``models`` (the first one is the default)."""
    from .app import create_app as build

    return build(models, settings or ServeSettings())


def load_models(specs: list[str], settings: ServeSettings | None = None, **kwargs: Any) -> list[ServedModel]:
    """Build the models of ``specs`` (a path or name, or ``ALIAS=PATH``); ``kwargs`` go to ``from_finetuned``."""
    from .models import load_models as load

    return load(specs, settings or ServeSettings(), **kwargs)
