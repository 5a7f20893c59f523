"""``flagcore serve``: added to the ``flagcore`` command through the ``flagcore.commands`` entry point. Importing
this module stays light (no FastAPI, no torch) because ``flagcore --help`` imports it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

    from .state import Lifecycle

#: seconds uvicorn waits, after the drain, for connections still open before it cancels their requests
GRACE_S = 5

EXAMPLES = """examples:
  flagcore serve BAAI/bge-small-en-v1.5
  flagcore serve embed=/models/bge-m3 rerank=/models/bge-reranker-v2-m3 --port 8080
  FLAGCORE_API_KEY=secret flagcore serve /models/all-MiniLM-L6-v2 --host 0.0.0.0

  curl -s localhost:8080/v1/embeddings -H 'Content-Type: application/json' -d '{"input": ["hello"]}'

signals: the first SIGTERM or Ctrl-C drains (the requests in flight get their answers, new ones get 503), then
the server exits with status 0; a second one stops it at once."""


def add_command(subparsers: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``flagcore`` command's subparsers."""
    from .settings import API_KEY_ENV, ServeSettings

    d = ServeSettings(api_key="")
    help_text = ("serve models over HTTP: OpenAI's /v1/embeddings, Cohere's /v1/rerank, BGE-M3's sparse and ColBERT "
                 "outputs, with requests batched together")
    p = subparsers.add_parser("serve", parents=parents, help=help_text, description=help_text, epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="a model directory or name, or ALIAS=PATH; the request field 'model' picks one (the first "
                        "is the default)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0: any free port)")
    p.add_argument("--devices", help="e.g. cpu, cuda:0, or cuda:0,cuda:1 (runs are split between devices)")
    p.add_argument("--max-batch-tokens", type=int, help="padded tokens per model batch (default: the model's)")
    p.add_argument("--api-key", help=f"bearer token every /v1 request must carry (default: ${API_KEY_ENV}, or none)")
    p.add_argument("--max-client-batch-size", "--max-inputs", dest="max_inputs", type=int, default=d.max_inputs,
                   metavar="N", help="inputs per request (default: %(default)s)")
    p.add_argument("--max-chars", type=int, default=d.max_chars,
                   help="characters per input (default: %(default)s)")
    p.add_argument("--payload-limit", "--max-body-bytes", dest="max_body_bytes", type=int, default=d.max_body_bytes,
                   metavar="BYTES", help="bytes per request body (default: %(default)s)")
    p.add_argument("--max-concurrent-requests", type=int, default=d.max_concurrent_requests, metavar="N",
                   help="requests in flight; one more gets 429 (default: %(default)s)")
    p.add_argument("--request-timeout", type=float, default=d.request_timeout,
                   help="seconds a request may wait for its result (default: %(default)s)")
    p.add_argument("--max-queue", type=int, default=d.max_queue,
                   help="inputs waiting per model before requests get 429 (default: %(default)s)")
    p.add_argument("--batch-wait-ms", type=float, default=d.batch_wait_ms,
                   help="how long a run waits for requests still being read (default: %(default)s)")
    p.add_argument("--max-run-tokens", type=int, default=d.max_run_tokens,
                   help="padded tokens of requests merged into one run (default: 8 x the model's batch budget)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    p.set_defaults(func=run)
    return p


#: the options that must be positive integers, by their ``args`` name
POSITIVE = {"max_inputs": "--max-client-batch-size", "max_chars": "--max-chars", "max_body_bytes": "--payload-limit",
            "max_queue": "--max-queue", "max_concurrent_requests": "--max-concurrent-requests"}


def settings_from(args: argparse.Namespace) -> Any:
    """The :class:`~flagcore_serve.settings.ServeSettings` of the parsed options."""
    from .settings import ServeSettings

    for name, option in POSITIVE.items():
        if getattr(args, name) < 1:
            raise ValueError(f"{option} must be a positive integer")
    return ServeSettings(max_inputs=args.max_inputs, max_chars=args.max_chars, max_body_bytes=args.max_body_bytes,
                         request_timeout=args.request_timeout, max_queue=args.max_queue,
                         max_concurrent_requests=args.max_concurrent_requests, batch_wait_ms=args.batch_wait_ms,
                         max_run_tokens=args.max_run_tokens, api_key=args.api_key)


def run(args: argparse.Namespace) -> int:
    """Load and warm up the models, then serve them until a signal: the first SIGTERM or SIGINT drains (status 0),
    a second one stops at once (status 128 + its number)."""
    import uvicorn

    from . import create_app, load_models

    settings = settings_from(args)
    options: dict[str, Any] = {}
    if args.devices:
        options["devices"] = args.devices.split(",") if "," in args.devices else args.devices
    if args.max_batch_tokens:
        options["max_batch_tokens"] = args.max_batch_tokens
    print(f"flagcore serve: loading {len(args.models)} model(s)", file=sys.stderr, flush=True)
    start = time.monotonic()
    models = load_models(list(args.models), settings, **options)
    app = create_app(models, settings)
    for item in models:
        print(f"flagcore serve: {item.name!r}: {item.kind} {type(item.model).__name__} ({item.source})",
              file=sys.stderr, flush=True)
    print(f"flagcore serve: loaded and warmed up in {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            access_log=args.access_log, timeout_graceful_shutdown=GRACE_S)
    sock = config.bind_socket()  # the port opens only now: nothing answers before the models are warm
    auth = "bearer token required" if settings.api_key else "no authentication"
    host, port = sock.getsockname()[:2]
    print(f"flagcore serve: listening on http://{_url_host(host)}:{port} ({auth})", file=sys.stderr, flush=True)
    _draining_server(config, app.state.lifecycle, drain_limit=2 * settings.request_timeout).run(sockets=[sock])
    return 0


def _stop_now(sig: int) -> None:
    """Exit at once, with the status of a process killed by ``sig``: no cleanup that could wait for (or, at the
    interpreter's exit, abort) a model run in progress on a batcher's thread."""
    os.write(2, b"flagcore serve: a second signal: stopping at once\n")  # async-signal-safe, unlike print
    os._exit(128 + sig)


def _say(message: str) -> None:
    print(f"flagcore serve: {message}", file=sys.stderr, flush=True)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _draining_server(config: uvicorn.Config, lifecycle: Lifecycle, drain_limit: float) -> Any:
    """A uvicorn server that drains on the first SIGTERM or SIGINT: ``lifecycle`` refuses new requests (503, the
    socket stays open meanwhile) until none is in flight, or ``drain_limit`` seconds passed; then uvicorn's own
    shutdown closes the socket and stops the batchers. A second signal stops at once (:func:`_stop_now`).
    uvicorn is imported here, not at the top, to keep ``flagcore --help`` light."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        announced = False

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # a signal handler: it only flags the drain (a print could re-enter stderr's buffer), the next tick acts
            if lifecycle.draining:
                _stop_now(sig)
            lifecycle.drain()

        async def on_tick(self, counter: int) -> bool:
            if lifecycle.draining_since is not None and not self.should_exit:
                if not self.announced:
                    self.announced = True
                    _say(f"draining: {lifecycle.in_flight} request(s) in flight, new ones get 503 (a second signal "
                         "stops at once)")
                if lifecycle.in_flight == 0:
                    _say("drained; stopping")
                    self.should_exit = True
                elif time.monotonic() - lifecycle.draining_since > drain_limit:
                    _say(f"still {lifecycle.in_flight} request(s) in flight after {drain_limit:g} s; stopping")
                    self.should_exit = True
            return await super().on_tick(counter)

    return DrainingServer(config)
