"""flagcore on MTEB: :class:`FlagcoreEncoder` (MTEB's encoder protocol, for every embedding task) and
:class:`FlagcoreCrossEncoder` (its cross-encoder protocol, for reranking), each taking a model name or path with
the auto factory's options, or an already-loaded flagcore model::

    import mteb
    from flagcore_mteb import FlagcoreEncoder

    results = mteb.evaluate(FlagcoreEncoder("BAAI/bge-small-en-v1.5"), mteb.get_tasks(tasks=["NFCorpus"]))
"""

from __future__ import annotations

from .cross_encoder import FlagcoreCrossEncoder
from .encoder import FlagcoreEncoder

__version__ = "0.1.0"

__all__ = ["FlagcoreCrossEncoder", "FlagcoreEncoder", "__version__"]
