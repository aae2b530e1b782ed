"""Execute notebooks top to bottom, and record how long each took on this CPU class.

    python scripts/run_notebooks.py                 # all of notebooks/NN_*.ipynb, in place
    python scripts/run_notebooks.py notebooks/03_content_loss.ipynb
    python scripts/run_notebooks.py --time-only     # execute copies: times only, outputs untouched

Each notebook runs in a fresh kernel with notebooks/ as the working directory, so the
committed outputs come from one real run in order (execution counts 1, 2, 3, ...).
Times go to notebooks/timings.json, per notebook and per CPU class (`helpers.machine.cpu_class`:
"AVX2+FMA" like most student laptops, "AVX-512 BF16" with bfloat16): README and the notebooks'
Time notes quote both. NST_FAST is removed from the environment: the times and the committed
outputs are always those of the default settings.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers.machine import cpu_class

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
TIMINGS = NOTEBOOKS / "timings.json"
TIMEOUT_S = 1200  # per cell
SLOW_CELL_S = 20  # cells at least this slow get their own time (the notebooks' ⏱ notes quote them)


def cell_seconds(nb) -> dict[str, float]:
    """{cell index: seconds} of the executed cells that took SLOW_CELL_S or more (nbclient's timestamps)."""
    slow = {}
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        began, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if began and ended:
            seconds = (datetime.fromisoformat(ended.replace("Z", "+00:00"))
                       - datetime.fromisoformat(began.replace("Z", "+00:00"))).total_seconds()
            if seconds >= SLOW_CELL_S:
                slow[str(index)] = round(seconds, 1)
    return slow


def run(path: Path, *, write: bool = True) -> tuple[float, dict[str, float]]:
    """Execute the notebook at `path` in a fresh kernel; write its outputs back if `write`.
    Returns (seconds, {index: seconds} of its slow cells)."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    if write:
        nbformat.write(nb, path)
    return seconds, cell_seconds(nb)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--time-only", action="store_true", help="do not write the outputs: record the times only")
    args = parser.parse_args(argv)
    os.environ.pop("NST_FAST", None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    paths = [p.resolve() for p in args.paths] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    cpu = cpu_class()
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    for path in paths:
        print(f"running {path.name} on {cpu['cores']} {cpu['class']} cores ...", flush=True)
        seconds, cells = run(path, write=not args.time_only)
        print(f"  {seconds:.0f} s, {path.stat().st_size / 1e6:.2f} MB", flush=True)
        entry = timings.setdefault(path.name, {})
        if not args.time_only:  # the committed outputs are now this run's
            for other in entry.values():
                other["outputs"] = "timed only"
        entry[cpu["class"]] = {"seconds": round(seconds, 1), "cores": cpu["cores"], "cpu": cpu["model"],
                               "outputs": "timed only" if args.time_only else "committed", "slow_cells": cells}
        TIMINGS.write_text(json.dumps(dict(sorted(timings.items())), indent=2) + "\n")  # after each: a crash keeps the rest
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
