"""The server's limits and knobs (``flagcore serve --help`` lists them with their defaults)."""

from __future__ import annotations

import os
from dataclasses import dataclass

API_KEY_ENV = "FLAGCORE_API_KEY"


@dataclass
class ServeSettings:
    #: inputs (texts, or documents of a rerank request) per request (``--max-client-batch-size``, TEI's name; 2048,
    #: OpenAI's limit, not TEI's 32, so that OpenAI clients sending their usual batches are not refused)
    max_inputs: int = 2048
    #: characters per input text (and per rerank query)
    max_chars: int = 100_000
    #: bytes of a request body (``--payload-limit``, TEI's name; 8 MiB, not TEI's 2 MB, to fit 2048 inputs)
    max_body_bytes: int = 8 * 1024 * 1024
    #: seconds a request may wait for its result (queue and inference) before it gets a 504
    request_timeout: float = 60.0
    #: inputs waiting for the model, per model; a request that would pass it gets a 429
    max_queue: int = 8192
    #: requests in flight (all models, ``/health`` and ``/metrics`` not counted); one more gets a 429 (TEI's default)
    max_concurrent_requests: int = 512
    #: how long the batcher waits for requests that are being read or tokenized before it closes a run (ms)
    batch_wait_ms: float = 2.0
    #: padded tokens of one merged run (several token-budget batches), per model; 0: 8 × the model's batch budget
    max_run_tokens: int = 0
    #: bearer token every /v1 request must carry (None: no authentication); default from FLAGCORE_API_KEY
    api_key: str | None = None

    def __post_init__(self) -> None:
        if self.api_key is None:
            self.api_key = os.environ.get(API_KEY_ENV) or None
