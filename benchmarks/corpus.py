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


def pairs(texts: list[str], queries: int = 8, per_query: int | None = None) -> list[tuple[str, str]]:
    """(query, passage) pairs for the reranker rows: a few documentation-style questions × the first passages
    (``per_query`` of them, by default as many as make 1000 pairs)."""
    questions = [
        "How do I define a generator function?", "What does the with statement do?",
        "How are exceptions raised and handled?", "What is a lambda expression?",
        "How does string formatting work?", "What are class attributes?",
        "How do imports find modules?", "What is the difference between a list and a tuple?",
    ][:queries]
    per_query = per_query or max(1, 1000 // len(questions))
    return [(q, p) for q in questions for p in texts[:per_query]]
