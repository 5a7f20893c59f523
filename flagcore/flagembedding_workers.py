"""FlagEmbedding's methods for worker processes and single-device calls, on flagcore's machinery: flagcore starts
and stops its workers by itself, so these exist for code written against FlagEmbedding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine.engine import Engine


class FlagEmbeddingWorkerMethods:
    """Mixed into every model, whose :class:`~flagcore.engine.engine.Engine` owns the worker processes."""

    engine: Engine

    def start_multi_process_pool(self, process_target_func: Any = None) -> Any:
        """Start the worker processes for ``target_devices[1:]`` now (flagcore otherwise starts them at the first
        call that needs them) and return the pool; ``None`` for a single-device model. ``process_target_func``
        (FlagEmbedding's worker function) is not used: flagcore's workers run flagcore's own loop."""
        if len(self.engine.target_devices) < 2:
            return None
        return self.engine.runner(self).workers()

    @staticmethod
    def stop_multi_process_pool(pool: Any) -> None:
        """Stop a pool returned by :meth:`start_multi_process_pool` (``None`` is accepted)."""
        if pool is not None:
            pool.close()

    def stop_self_pool(self) -> None:
        """Stop this model's worker processes (the next multi-device call starts them again)."""
        self.engine.close()

    @contextmanager
    def first_device_only(self, device: Any = None) -> Iterator[None]:
        """Calls inside run on the model's first device only, as FlagEmbedding's ``*_single_device`` methods do.
        ``device`` must be that device (or None): the model's weights live there."""
        engine = self.engine
        if device is not None and str(device) != engine.device:
            raise ValueError(f"device={device!r}: this model runs on {engine.device!r} (its first device); build it "
                             f"with devices={str(device)!r} to run there")
        previous, engine.first_device_only = engine.first_device_only, True
        try:
            yield
        finally:
            engine.first_device_only = previous
