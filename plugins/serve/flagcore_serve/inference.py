"""Inference for one request: tokenize on the model's tokenizer thread, queue on the model's batcher, wait for the
merged run; and the batchers themselves (:func:`attach_batcher`)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from flagcore.family import Work

from .batching import DynamicBatcher, QueueFull, Stopped
from .errors import APIError
from .metrics import Metrics
from .models import RunKey, ServedModel
from .settings import ServeSettings


def attach_batcher(item: ServedModel, settings: ServeSettings, metrics: Metrics) -> None:
    """Give ``item`` its batcher (runs ``item.run``), observed by ``metrics``."""
    budget = item.model.batch_token_budget or 2048
    batcher = DynamicBatcher(
        item.name, item.run, _split, max_queue=settings.max_queue,
        max_run_tokens=settings.max_run_tokens or 8 * budget, batch_wait_s=settings.batch_wait_ms / 1000,
        observe=metrics.observer(item.name))
    item.batcher = batcher
    metrics.queue.labels(item.name).set_function(_queue_size(batcher))


def _split(output: Any, start: int, stop: int) -> Any:
    return output[start:stop]


def _queue_size(batcher: DynamicBatcher) -> Callable[[], float]:
    return lambda: float(batcher.queued_rows)


async def infer(item: ServedModel, key: RunKey, inputs: Any, timeout: float) -> tuple[Any, int]:
    """Prepare ``inputs`` (on the model's tokenizer thread), queue, wait for the merged run; (outputs, tokens).
    Cancelling the caller (its client disconnected, see :class:`~flagcore_serve.handlers.Admission`) cancels the
    queued job's future, which takes it out of the queue: its rows never run unless their run has started."""
    future, tokens = await _submit(item, key, inputs)
    try:
        return await asyncio.wait_for(future, timeout), tokens
    except asyncio.TimeoutError:
        raise APIError(504, f"no result within the request timeout of {timeout:g} s; the server is overloaded or "
                            "the request is too large") from None
    except APIError:
        raise
    except Stopped as exc:  # stopped while this request waited in its queue
        raise APIError(503, f"{exc}: retry on another replica", code="shutting_down") from None
    except Exception as exc:
        raise APIError(500, f"inference failed: {type(exc).__name__}: {exc}") from None


async def _submit(item: ServedModel, key: RunKey, inputs: Any) -> tuple[asyncio.Future, int]:
    """Prepare and queue, counted as arriving meanwhile (a run about to start waits for it); (future, tokens)."""
    batcher = item.batcher
    assert batcher is not None
    loop = asyncio.get_running_loop()
    with batcher.arriving() as arrival:
        try:
            work: Work = await loop.run_in_executor(item.tokenizer_thread, item.prepare, key, inputs)
        except (TypeError, ValueError) as exc:
            raise APIError(400, f"{exc}") from None
        try:
            return batcher.submit(key, work, arrival), work.tokens
        except QueueFull as exc:
            raise APIError(429, str(exc), code="queue_full") from None
        except Stopped as exc:
            raise APIError(503, f"{exc}: retry on another replica", code="shutting_down") from None
