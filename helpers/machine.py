"""The CPU a measurement ran on: its speed class, read from the flags in /proc/cpuinfo; no TensorFlow.

    from helpers.machine import cpu_class
    cpu_class()["class"]     # "AVX2+FMA" on most student laptops, "AVX-512 BF16" or "AMX" on servers

Times differ about 5x per style-transfer evaluation between a CPU with bfloat16 and one without,
so every time this project quotes names its class (benchmarks/benchmark.py, scripts/run_notebooks.py).
"""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_class(cpuinfo: str | None = None) -> dict:
    """The CPU measured on: model name, cores usable, the flags that set its speed class, and the class.

    cpuinfo: the text of /proc/cpuinfo (None: read it; empty where there is none).
    class: "AMX" (amx_bf16), "AVX-512 BF16" (avx512_bf16), "AVX-512 (no bfloat16)"
    (avx512f), "AVX2+FMA" (avx2 and fma) or "pre-AVX2".
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor's
    flags = set(fields.get("flags", "").split())
    marks = {flag: flag in flags for flag in ("amx_bf16", "avx512_bf16", "avx512f", "avx2", "fma")}
    label = ("AMX" if marks["amx_bf16"] else "AVX-512 BF16" if marks["avx512_bf16"]
             else "AVX-512 (no bfloat16)" if marks["avx512f"] else "AVX2+FMA" if marks["avx2"] and marks["fma"]
             else "pre-AVX2")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = fields.get("model name") or platform.processor() or platform.machine()
    return {"model": model, "cores": cores, **marks, "class": label}
