"""Will a size fit in this machine's memory? Checked before any expensive work.

The model is measured, not derived: peak memory of one loss evaluation (forward and
backward through VGG16 up to block5_conv3) was measured with resource.getrusage at
256, 512 and 768 px squares on TensorFlow 2.21's CPU build: about 1.0 GB for the
process (TensorFlow, the weights) plus about 2.8 KB per pixel of the image. We use
3 KB per pixel, a little above the measurement, so the estimate errs on the safe side.
"""
from __future__ import annotations

import math

BASE_BYTES = 1.1e9
BYTES_PER_PIXEL = 3_000.0


class SizeError(ValueError):
    """The requested size would not fit in memory; the message names the largest that would."""


def estimate_bytes(height: int, width: int) -> float:
    """Estimated peak memory in bytes of optimizing a (height, width) image."""
    return BASE_BYTES + BYTES_PER_PIXEL * height * width


def available_bytes() -> float:
    """Memory available to this process now: MemAvailable from /proc/meminfo, or the cgroup limit if lower."""
    candidates = []
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            candidates.append(int(text))
    if not candidates:  # not Linux: assume a modest laptop
        return 8e9
    return float(min(candidates))


def largest_fitting(height: int, width: int, memory: float | None = None) -> int:
    """Largest longest side (px) at this aspect ratio whose estimate fits in `memory` bytes."""
    memory = available_bytes() if memory is None else memory
    pixels = max(0.0, (memory - BASE_BYTES) / BYTES_PER_PIXEL)
    aspect = min(height, width) / max(height, width)
    return int(math.sqrt(pixels / aspect))


def check_fits(height: int, width: int, memory: float | None = None) -> None:
    """Raise SizeError, with the largest size that would fit, if (height, width) would not fit."""
    memory = available_bytes() if memory is None else memory
    need = estimate_bytes(height, width)
    if need > memory:
        raise SizeError(
            f"{height}x{width} px needs about {need / 1e9:.1f} GB of memory but {memory / 1e9:.1f} GB is available; "
            f"the largest size that fits is about {largest_fitting(height, width, memory)} px on the longest side"
        )
