"""benchmarks/benchmark.py smoke-run at a tiny size (64 px, a few evaluations): it runs and writes its
results. A smoke test, not a measurement: the timings of such a run mean nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh process with TensorFlow, six tiny runs

REPO = Path(__file__).resolve().parents[1]


def test_benchmark_tiny_run_writes_table_json_and_plot(weights_path, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}  # KERAS_HOME: the fixture's
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "benchmark.py"), "--tiny", "--out", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]["64"]
    assert {"original", "lbfgs", "+coarse", "default"} <= set(results["rows"])
    assert results["loss_agreement"] < 1e-5  # the faithful port and helpers' loss are the same loss
    for name, curve in results["curves"].items():
        assert curve["common"], name  # every run was judged on saved images
    table = (tmp_path / "table.md").read_text()
    assert "| 64 | original |" in table and "| 64 | default |" in table
    assert (tmp_path / "losses.png").read_bytes()[:4] == b"\x89PNG"
