"""``flagcore encode --ray``: added to the core's ``encode`` command through the ``flagcore.command_options`` entry
point. Importing this module stays light (no Ray, no torch) because every ``flagcore`` command imports it."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from flagcore.cli import embedder_options


def add_encode_options(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int | None]:
    """Add ``--ray`` to ``flagcore encode``; the returned handler runs the command on Ray when it is given."""
    parser.add_argument("--ray", action="store_true",
                        help="run on a Ray cluster (Parquet in, a folder of Parquet files out; flagcore-ray)")
    return encode_with_ray


def encode_with_ray(args: argparse.Namespace) -> int | None:
    """Embed the Parquet input into a folder of Parquet files with :func:`flagcore_ray.encode_parquet`, the model
    built from the same options as a local ``flagcore encode``; None (run locally) without ``--ray``."""
    if not args.ray:
        return None
    from . import encode_parquet

    options = embedder_options(args)
    options.pop("devices", None)  # each actor gets its own device from Ray
    rows = encode_parquet(args.input, args.output, args.model, column=getattr(args, "column", None) or "text",
                          query=args.queries, **options)
    print(f"wrote {rows} embeddings to {args.output} (Parquet files)", file=sys.stderr)
    return 0
