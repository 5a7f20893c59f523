"""The benchmark corpus: paragraphs of Python's bundled documentation topics (pydoc_data.topics), mixed lengths."""

from __future__ import annotations

import re


def paragraphs(minimum_chars: int = 20) -> list[str]:
    import pydoc_data.topics as topics

    found = []
    for _, text in sorted(topics.topics.items()):
        for block in re.split(r"\n\s*\n", text):
            block = " ".join(block.split())
            if len(block) >= minimum_chars:
                found.append(block)
    return found
