"""helpers.optimize's time estimate: its arithmetic (made-up timings, no VGG16) and, on a tiny problem,
that it times every stage at its own size without building any problem twice."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import optimize
from helpers.settings import Settings, Stage

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
STYLE = REPO / "images" / "styles" / "great_wave.jpg"

STAGES = [Stage(shape=(192, 256), scale=0.5, iterations=60), Stage(shape=(384, 512), scale=1.0, iterations=30)]


def test_each_stage_costs_its_evaluations_at_its_own_speed():
    # 60 x 0.8 s at half size, 30 x 3.2 s at full size (the checked start is the optimizer's first evaluation)
    assert optimize.expected_seconds(STAGES, seconds_per_evaluation=[0.8, 3.2]) == pytest.approx(60 * 0.8 + 30 * 3.2)
    # a coarse stage that is slower than its share of pixels counts as measured
    assert optimize.expected_seconds(STAGES, seconds_per_evaluation=[1.5, 3.2]) == pytest.approx(60 * 1.5 + 30 * 3.2)
    assert optimize.expected_seconds(STAGES[1:], seconds_per_evaluation=[2.0]) == pytest.approx(60.0)
    with pytest.raises(ValueError, match="2 stages but 1 timings"):
        optimize.expected_seconds(STAGES, seconds_per_evaluation=[3.2])


def test_estimate_times_every_stage_at_its_own_size(monkeypatch):
    timed = []

    def fake_time_stage(problem, *, settings, repeats=1):
        timed.append(problem)
        return {"coarse": 1.0, "final": 4.0}[problem]

    monkeypatch.setattr(optimize, "time_stage", fake_time_stage)
    seconds = optimize.estimate_seconds(["coarse", "final"], stages=STAGES, settings=Settings())
    assert timed == ["coarse", "final"] and seconds == pytest.approx(60 * 1.0 + 30 * 4.0)


@pytest.mark.slow  # builds VGG16 at two tiny sizes
def test_estimating_builds_nothing_twice_and_compiles_what_the_run_reuses(weights_path):
    from helpers.problem import ProblemCache

    cache = ProblemCache()
    settings = Settings(precision="float32", iterations=2, coarse_to_fine=((0.5, 2),))
    stages = optimize.plan(CONTENT, size=(64, 86), settings=settings)  # tiny: 32 x 43, then 64 x 86
    problems = [cache.get(CONTENT, STYLE, size=stage.shape, settings=settings) for stage in stages]
    seconds = optimize.estimate_seconds(problems, stages=stages, settings=settings)
    assert seconds > 0 and cache.builds == 2
    traced = [problem._compiled[(settings.normalization, tuple(problem.style_layers))] for problem in problems]  # each compiled while timing
    assert [f.experimental_get_tracing_count() for f in traced] == [1, 1]
    result = optimize.run_stages(problems, stages=stages, settings=settings, progress=False)
    assert result.stopped is None and cache.builds == 2
    assert [f.experimental_get_tracing_count() for f in traced] == [1, 1]  # the run reused them, rescaled weights too
