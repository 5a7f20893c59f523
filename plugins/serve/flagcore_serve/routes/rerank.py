"""Cohere's rerank: ``POST /v1/rerank`` and ``POST /rerank``; a ``/rerank`` body with ``texts`` is TEI's rerank
(:mod:`.tei`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..inference import infer
from ..models import SCORE_KEY
from ..picking import is_reranker, pick
from ..reading import JSONBody
from ..responses import json_response, usage
from ..state import settings_of
from ..validation import boolean, documents, positive_int, text
from .tei import rerank_texts

router = APIRouter()


@router.post("/v1/rerank")
@router.post("/rerank")
async def rerank(request: Request, body: JSONBody) -> Response:
    if request.url.path == "/rerank" and "texts" in body:  # TEI's body: {"query", "texts"}; Cohere's has documents
        return await rerank_texts(request, body)
    item = pick(request, body, request.url.path, is_reranker, "reranking (a reranker model)")
    settings = settings_of(request)
    query = text(body.get("query"), "query", settings)
    docs = documents(body.get("documents"), settings)
    top_n = positive_int(body, "top_n")
    return_documents = boolean(body, "return_documents", False)
    raw = boolean(body, "raw_scores", False)
    pairs = [(query, d) for d in docs]
    scores, tokens = await infer(item, SCORE_KEY, pairs, settings.request_timeout)
    values = [float(s) if raw else item.model.activate(float(s)) for s in scores]
    order = sorted(range(len(values)), key=lambda i: -values[i])[: top_n or len(values)]
    results = [_result(i, values[i], docs[i] if return_documents else None) for i in order]
    return json_response({"id": str(uuid.uuid4()), "object": "rerank", "results": results, "model": item.name,
                          "usage": usage(tokens)})


def _result(index: int, score: float, document: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "relevance_score": score}
    if document is not None:
        result["document"] = {"text": document}
    return result
