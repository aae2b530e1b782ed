"""helpers.budget: the memory estimate, the largest size that fits, and the refusal (memory given, so exact)."""
from __future__ import annotations

import pytest

from helpers import budget


def test_estimate_is_a_base_plus_a_cost_per_pixel():
    assert budget.estimate_bytes(0, 0) == budget.BASE_BYTES
    assert budget.estimate_bytes(512, 512) == pytest.approx(budget.BASE_BYTES + 512 * 512 * budget.BYTES_PER_PIXEL)
    assert budget.estimate_bytes(384, 512) == budget.estimate_bytes(512, 384)


def test_largest_fitting_is_the_largest_side_whose_estimate_fits():
    memory = 4e9
    for height, width in [(512, 512), (768, 1024), (1024, 300)]:
        side = budget.largest_fitting(height, width, memory)
        aspect = min(height, width) / max(height, width)
        short = lambda longest: longest * aspect  # noqa: E731 (the short side at this longest side)
        assert budget.estimate_bytes(side, short(side)) <= memory
        assert budget.estimate_bytes(side + 2, short(side + 2)) > memory
    assert budget.largest_fitting(512, 512, budget.BASE_BYTES / 2) == 0  # not even TensorFlow fits


def test_check_fits_passes_or_names_the_largest_size():
    need = budget.estimate_bytes(1000, 1000)
    budget.check_fits(1000, 1000, memory=need)  # exactly enough: no error
    with pytest.raises(budget.SizeError) as error:
        budget.check_fits(1000, 1000, memory=need - 1e6)
    message = str(error.value)
    assert "1000x1000 px" in message and "GB" in message and "\n" not in message
    assert f"about {budget.largest_fitting(1000, 1000, need - 1e6)} px" in message
    assert isinstance(error.value, ValueError)  # callers that catch ValueError see it too


def test_available_memory_is_positive():
    assert budget.available_bytes() > 0
