"""Execute notebooks top to bottom, in place, and record how long each took.

    python scripts/run_notebooks.py                 # all of notebooks/NN_*.ipynb, default settings
    python scripts/run_notebooks.py notebooks/03_content_loss.ipynb

Each notebook runs in a fresh kernel with notebooks/ as the working directory, so the
committed outputs come from one real run in order (execution counts 1, 2, 3, ...).
Times go to notebooks/timings.json (README quotes them). NST_FAST is removed from the
environment: committed outputs are always those of the default settings.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
TIMINGS = NOTEBOOKS / "timings.json"
TIMEOUT_S = 1200  # per cell


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    os.environ.pop("NST_FAST", None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    paths = [Path(p).resolve() for p in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        seconds = run(path)
        print(f"  {seconds:.0f} s, {path.stat().st_size / 1e6:.2f} MB", flush=True)
        timings[path.name] = {"seconds": round(seconds, 1), "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine()}
    TIMINGS.write_text(json.dumps(dict(sorted(timings.items())), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
