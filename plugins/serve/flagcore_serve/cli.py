"""``flagcore serve``: added to the ``flagcore`` command through the ``flagcore.commands`` entry point. Importing
this module stays light (no FastAPI, no torch) because ``flagcore --help`` imports it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXAMPLES = """examples:
  flagcore serve BAAI/bge-small-en-v1.5
  flagcore serve embed=/models/bge-m3 rerank=/models/bge-reranker-v2-m3 --port 8080
  FLAGCORE_API_KEY=secret flagcore serve /models/all-MiniLM-L6-v2 --host 0.0.0.0

  curl -s localhost:8080/v1/embeddings -H 'Content-Type: application/json' -d '{"input": ["hello"]}'"""


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
    p.add_argument("--max-inputs", type=int, default=d.max_inputs, help="inputs per request (default: %(default)s)")
    p.add_argument("--max-chars", type=int, default=d.max_chars,
                   help="characters per input (default: %(default)s)")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes,
                   help="bytes per request body (default: %(default)s)")
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


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from . import create_app, load_models
    from .settings import ServeSettings

    for name in ("max_inputs", "max_chars", "max_body_bytes", "max_queue"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer")
    settings = ServeSettings(max_inputs=args.max_inputs, max_chars=args.max_chars, max_body_bytes=args.max_body_bytes,
                             request_timeout=args.request_timeout, max_queue=args.max_queue,
                             batch_wait_ms=args.batch_wait_ms, max_run_tokens=args.max_run_tokens,
                             api_key=args.api_key)
    options: dict[str, Any] = {}
    if args.devices:
        options["devices"] = args.devices.split(",") if "," in args.devices else args.devices
    if args.max_batch_tokens:
        options["max_batch_tokens"] = args.max_batch_tokens
    print(f"flagcore serve: loading {len(args.models)} model(s)", file=sys.stderr, flush=True)
    models = load_models(list(args.models), settings, **options)
    app = create_app(models, settings)
    for item in models:
        print(f"flagcore serve: {item.name!r}: {item.kind} {type(item.model).__name__} ({item.source})",
              file=sys.stderr, flush=True)
    auth = "bearer token required" if settings.api_key else "no authentication"
    print(f"flagcore serve: listening on http://{args.host}:{args.port} ({auth})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    return 0
