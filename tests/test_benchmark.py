"""benchmarks/benchmark.py: the CPU class and the emulation check (no runs), and a smoke-run at a tiny
size (64 px, a few evaluations) that writes its results. A smoke test, not a measurement: the
timings of such a run mean nothing."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

AVX2_CPU = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx fma avx2\n\nprocessor\t: 1\n"
BF16_CPU = "model name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t\t: avx2 fma avx512f avx512_bf16 amx_bf16\n"


@pytest.fixture(scope="module")
def benchmark():
    """The benchmark script as a module (imports TensorFlow, builds nothing)."""
    spec = importlib.util.spec_from_file_location("benchmark", REPO / "benchmarks" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_class_reads_the_flags_that_set_the_speed(benchmark):
    avx2 = benchmark.cpu_class(AVX2_CPU)
    assert avx2["class"] == "AVX2+FMA" and avx2["model"] == "AMD EPYC 7B13"
    assert avx2["avx2"] and not avx2["avx512_bf16"] and avx2["cores"] >= 1
    bf16 = benchmark.cpu_class(BF16_CPU)
    assert bf16["class"] == "AMX" and bf16["avx512_bf16"] and bf16["amx_bf16"]
    assert benchmark.cpu_class(BF16_CPU.replace(" amx_bf16", ""))["class"] == "AVX-512 BF16"
    assert benchmark.cpu_class("flags : sse2 avx\n")["class"] == "pre-AVX2"


def test_the_emulation_check_refuses_bfloat16_and_an_ignored_isa_cap(benchmark):
    assert benchmark.emulation_problems(isa="Intel AVX2", precisions=["float32"]) == []
    assert benchmark.emulation_problems(isa="Intel AVX2 with Intel DL Boost", precisions=["float32"]) == []
    ignored = benchmark.emulation_problems(isa="Intel AVX-512 with Intel DL Boost and bfloat16 support",
                                           precisions=["float32"])
    assert len(ignored) == 1 and "not AVX2" in ignored[0]
    bf16 = benchmark.emulation_problems(isa="Intel AVX2", precisions=["float32", "bfloat16"])
    assert len(bf16) == 1 and "bfloat16" in bf16[0]


def test_the_emulation_is_set_before_tensorflow_starts(benchmark):
    assert benchmark.requested_emulation(["--tiny", "--emulate", "avx2"]) == "avx2"
    assert benchmark.requested_emulation(["--tiny"]) is None
    assert benchmark.EMULATIONS["avx2"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}


@pytest.mark.slow  # a fresh process with TensorFlow, five tiny runs
def test_benchmark_tiny_run_judges_the_delivered_pictures(weights_path, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}  # KERAS_HOME: the fixture's
    env.pop("ONEDNN_MAX_CPU_ISA", None)  # the benchmark must set it itself
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "benchmark.py"), "--tiny", "--emulate", "avx2",
                           "--out", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    saved = json.loads((tmp_path / "results.json").read_text())
    machine, results = saved["machine"], saved["results"]["64"]
    # the CPU class is recorded, and the emulation was checked: oneDNN capped at AVX2, float32 only
    assert {"model", "cores", "avx2", "avx512_bf16", "class"} <= set(machine["cpu"])
    assert machine["emulate"] == "avx2" and machine["onednn_isa"].startswith("Intel AVX2")
    assert machine["emulation"] == {"settings": {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "precisions": ["float32"],
                                    "faithful": True}
    assert {"original", "lbfgs", "+coarse", "+cut", "default"} == set(results["rows"])  # no +bf16 when emulating AVX2
    assert results["shape"] == [48, 64]  # the content photo's aspect kept (1024 x 768)
    assert results["loss_agreement"] < 1e-5  # the faithful port and helpers' loss are the same loss
    for name, row in results["rows"].items():
        assert row["final_delivered_loss"] > 0 and row["final_raw_loss"] > 0, name
        assert (tmp_path / "pictures" / f"64_{name.lstrip('+')}.png").exists(), name
    for name in ("lbfgs", "+coarse", "+cut", "default"):  # bounded: the picture scores what the optimizer saw
        for _, _, raw, delivered in results["curves"][name]["common"]:
            assert delivered == pytest.approx(raw, rel=1e-2), name
    # the original's saved picture is its last snapshot: the PNG, reloaded, scores as that snapshot's 8 bits
    assert results["rows"]["original"]["final_delivered_loss"] == pytest.approx(
        results["curves"]["original"]["common"][-1][3], rel=1e-6)
    # the target is the original's own saved picture, which it reaches by definition
    assert results["target_loss"] == results["rows"]["original"]["final_delivered_loss"]
    assert results["rows"]["original"]["evaluations_to_original_final_loss"] is not None
    table = (tmp_path / "table.md").read_text()
    assert "| 48 x 64 | original |" in table and "| 48 x 64 | default |" in table and "EMULATING AVX2" in table
    assert (tmp_path / "losses.png").read_bytes()[:4] == b"\x89PNG"
