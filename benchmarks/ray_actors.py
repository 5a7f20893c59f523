"""Docs/s of ``flagcore_ray.embed_dataset`` with 1 and then 2 actors on a local Ray instance, each in a fresh
process (``ray.init(num_cpus=2)``), on generated short texts read from a Parquet file as 8 blocks.

    python benchmarks/ray_actors.py MODEL_DIR [--texts 2000] [--actors 1 2]

Wall time includes starting the actors and loading the model in each, as a job's would. Prints one markdown row
per run, with the CPU and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import cpu_name  # noqa: E402
from stream_memory import TOPICS  # noqa: E402

ONE_RUN = """
import sys, time, ray, flagcore_ray
model, source, actors = sys.argv[1], sys.argv[2], int(sys.argv[3])
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
started = time.perf_counter()
ds = flagcore_ray.embed_dataset(ray.data.read_parquet(source, override_num_blocks=8), model, concurrency=actors,
                                num_cpus=1 / actors, devices="cpu")
rows = sum(len(batch["embedding"]) for batch in ds.iter_batches(batch_size=1024))
print(rows, time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq

    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores", flush=True)
    print("| actors | CPUs each | texts | wall time | docs/s | load (1 min) before → after |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "texts.parquet"
        texts = [f"document {i}: {TOPICS[i % len(TOPICS)]} ({i % 13} notes)" for i in range(args.texts)]
        pq.write_table(pa.table({"id": list(range(args.texts)), "text": texts}), source)
        for actors in args.actors:
            load_before = os.getloadavg()[0]
            done = subprocess.run([sys.executable, "-c", ONE_RUN, args.model, str(source), str(actors)],
                                  check=True, capture_output=True, text=True)
            rows, seconds = done.stdout.split()[-2:]
            if int(rows) != args.texts:
                raise RuntimeError(f"{rows} rows came back for {args.texts} texts")
            print(f"| {actors} | {1 / actors:g} | {args.texts:,} | {float(seconds):.1f} s | "
                  f"{args.texts / float(seconds):.0f} | {load_before:.2f} → {os.getloadavg()[0]:.2f} |", flush=True)
            time.sleep(5)


if __name__ == "__main__":
    main()
