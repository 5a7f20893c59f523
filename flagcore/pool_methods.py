"""FlagEmbedding's methods for worker processes and single-device calls, on flagcore's machinery: flagcore starts
and stops its workers by itself, so these exist for code written against FlagEmbedding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any


class FlagEmbeddingPoolMethods:
    """Mixed into every model. ``target_devices``, ``device``, ``close()`` and ``_multi_device_runner()`` come
    from :class:`flagcore.model_base.InferenceModel`."""

    target_devices: list[str]
    _first_device_only: bool = False

    if TYPE_CHECKING:
        @property
        def device(self) -> str: ...

    def start_multi_process_pool(self, process_target_func: Any = None) -> Any:
        """Start the worker processes for ``target_devices[1:]`` now (flagcore otherwise starts them at the first
        call that needs them) and return the pool; ``None`` for a single-device model. ``process_target_func``
        (FlagEmbedding's worker function) is not used: flagcore's workers run flagcore's own loop."""
        if len(self.target_devices) < 2:
            return None
        return self._multi_device_runner().pool()  # type: ignore[attr-defined]

    @staticmethod
    def stop_multi_process_pool(pool: Any) -> None:
        """Stop a pool returned by :meth:`start_multi_process_pool` (``None`` is accepted)."""
        if pool is not None:
            pool.close()

    def stop_self_pool(self) -> None:
        """Stop this model's worker processes (the next multi-device call starts them again)."""
        self.close()  # type: ignore[attr-defined]

    @contextmanager
    def first_device_only(self, device: Any = None) -> Iterator[None]:
        """Calls inside run on the model's first device only, as FlagEmbedding's ``*_single_device`` methods do.
        ``device`` must be that device (or None): the model's weights live there."""
        if device is not None and str(device) != self.device:
            raise ValueError(f"device={device!r}: this model runs on {self.device!r} (its first device); build it with "
                             f"devices={str(device)!r} to run there")
        previous, self._first_device_only = self._first_device_only, True
        try:
            yield
        finally:
            self._first_device_only = previous
