"""helpers.optimize (the pipeline), helpers.optimizers (the registry) and helpers.problem (the cache,
delivered_loss), on tiny problems: 64 x 86 px final, a 32 x 43 px coarse stage, a few evaluations (float32)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # builds VGG16 and optimizes: seconds per test

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"  # 1024 x 768
STYLE = REPO / "images" / "styles" / "great_wave.jpg"
FINAL, COARSE = (64, 86), (32, 43)  # tiny: the smallest final size whose half still fits VGG16


@pytest.fixture(scope="module")
def tiny(weights_path):
    from helpers.settings import Settings

    return Settings(precision="float32", iterations=3, coarse_to_fine=((0.5, 2),))


def test_the_registry_is_the_list_of_methods():
    from helpers.optimizers import OPTIMIZERS
    from helpers.settings import METHODS

    assert tuple(OPTIMIZERS) == METHODS and all(callable(f) for f in OPTIMIZERS.values())


def test_stylize_runs_the_coarse_stage_and_every_frame_is_full_size(tiny, tmp_path):
    from helpers.optimize import stylize

    result = stylize(CONTENT, STYLE, size=FINAL, settings=tiny, frames_every=1, progress=False)
    assert result.stopped is None
    assert result.settings["stages"] == [(COARSE, 2), (FINAL, 3)]
    assert [h["shape"] for h in result.history] == [COARSE] * 2 + [FINAL] * 3
    assert [h["evaluation"] for h in result.history] == [1, 2, 3, 4, 5]
    assert result.best_loss == min(h["total"] for h in result.history[2:])  # of the final size only
    assert result.image.shape == (*FINAL, 3) and result.image.dtype == np.uint8
    assert [n for n, _ in result.frames] == [1, 2, 3, 4, 5]
    assert all(frame.shape == (*FINAL, 3) and frame.dtype == np.uint8 for _, frame in result.frames)
    with Image.open(result.save_gif(tmp_path / "run.gif")) as gif:
        assert gif.size == (FINAL[1], FINAL[0]) and gif.n_frames >= 2
        for index in range(gif.n_frames):  # every frame covers the whole canvas: nothing cropped
            gif.seek(index)
            assert gif.convert("RGB").size == (FINAL[1], FINAL[0])


def test_a_style_layer_of_weight_zero_is_not_computed_and_adds_exactly_zero(tiny):
    import tensorflow as tf

    from helpers.problem import get_problem

    problem = get_problem(CONTENT, STYLE, size=FINAL, settings=tiny)
    x = tf.constant(problem.initial_image("noise", seed=3))
    all_layers = problem.evaluator(tiny)(x)
    cut = tiny.replace(style_layer_weights=(0.2, 0.2, 0.2, 0.0, 0.0))
    total, grad, parts = problem.evaluator(cut)(x)
    assert list(parts) == list(all_layers[2])  # every layer keeps its place in the history
    assert float(parts["style/block4_conv3"]) == float(parts["style/block5_conv3"]) == 0.0
    kept = sum(float(v) for k, v in all_layers[2].items() if k not in ("style/block4_conv3", "style/block5_conv3"))
    assert float(total) == pytest.approx(kept, rel=1e-5)
    assert grad.shape == x.shape
    key = (tiny.normalization, ("block1_conv2", "block2_conv2", "block3_conv3"))
    assert key in problem._compiled  # its own, shallower network: VGG16 up to block3_conv3


def test_the_checked_start_is_the_optimizers_first_evaluation(tiny):
    from helpers import optimizers
    from helpers.problem import get_problem

    problem = get_problem(CONTENT, STYLE, size=FINAL, settings=tiny)
    calls = []
    evaluator = problem.evaluator

    def counting(settings):
        evaluate = evaluator(settings)
        return lambda image: calls.append(1) or evaluate(image)

    problem.evaluator = counting  # this instance only (the cache keeps it: restored below)
    try:
        result = optimizers.run(problem, tiny, progress=False)
    finally:
        del problem.evaluator
    assert len(result.history) == tiny.iterations and len(calls) == tiny.iterations  # the check is not repeated


def test_a_finer_stage_starts_from_the_coarse_picture_plus_the_photos_detail():
    from helpers import images as im
    from helpers.optimize import hand_over

    photo = np.zeros((64, 86, 3), np.float32)
    photo[:, ::2] = 255.0  # detail only: stripes one pixel wide, which a 32 x 43 picture cannot hold
    coarse = np.full((32, 43, 3), 100, np.uint8)
    start = hand_over(coarse, im.preprocess(photo)[None])
    assert start.shape == (64, 86, 3) and start.dtype == np.uint8
    stripes = start[:, 10:-10].astype(float)
    assert abs(stripes.mean() - 100) < 15  # the coarse picture's colour
    assert stripes[:, ::2].mean() - stripes[:, 1::2].mean() > 100  # and the photo's stripes on top


def test_coarse_stage_weights_follow_the_size_rule_once(tiny):
    from helpers.optimize import build_problems, plan, run_stages
    from helpers.optimizers import pixel_box
    from helpers.settings import REFERENCE_PIXELS

    tiny = tiny.replace(init="noise")  # from the content image, the content loss would start at 0
    stages = plan(CONTENT, size=FINAL, settings=tiny)
    problems = build_problems(CONTENT, STYLE, stages=stages, settings=tiny)
    seen = []
    run_stages(problems, stages=stages, settings=tiny, progress=False, callback=lambda p: seen.append(p.record))
    coarse, final = problems
    # the first record of each stage is the weighted loss of its start image (clipped into the
    # pixel box by the bounded L-BFGS): recompute it
    x = np.clip(coarse.initial_image("noise", seed=0), *pixel_box((1, *COARSE, 3))).astype(np.float32)
    _, _, parts = coarse.evaluator(tiny)(x)
    # unweighted content and TV losses: "original" keeps the weights as given (1, 1)
    _, _, raw = coarse.evaluator(tiny.replace(normalization="original", layer_balance=None, content_weight=1.0,
                                              tv_weight=1.0))(x)
    factor = REFERENCE_PIXELS / (COARSE[0] * COARSE[1])  # rule (a) at the coarse stage's own size, once
    assert seen[0]["content"] == pytest.approx(float(parts["content"]), rel=1e-5)
    assert seen[0]["content"] == pytest.approx(factor * float(raw["content"]), rel=1e-5)
    assert seen[0]["tv"] == pytest.approx(factor * float(raw["tv"]), rel=1e-5)
    assert seen[0]["style/block1_conv2"] == pytest.approx(float(parts["style/block1_conv2"]), rel=1e-5)
    assert len(seen) == 5 and final.shape == FINAL


def test_original_coarse_stages_keep_the_final_sizes_balance(tiny):
    from helpers.optimize import build_problems, plan, run_stages
    from helpers.optimizers import pixel_box

    post = tiny.replace(normalization="original", layer_balance=None, init="noise", content_weight=0.5, tv_weight=2.0)
    stages = plan(CONTENT, size=FINAL, settings=post)
    problems = build_problems(CONTENT, STYLE, stages=stages, settings=post)
    seen, images = [], []

    def keep(progress):
        seen.append(progress.record)
        images.append(np.array(progress.preprocessed))

    run_stages(problems, stages=stages, settings=post, progress=False, callback=keep)
    coarse, final = problems
    unweighted = post.replace(content_weight=1.0, tv_weight=1.0)
    factor = (FINAL[0] * FINAL[1]) / (COARSE[0] * COARSE[1])  # about 4: a quarter of the positions
    x = np.clip(coarse.initial_image("noise", seed=0), *pixel_box((1, *COARSE, 3))).astype(np.float32)
    _, _, raw = coarse.evaluator(unweighted)(x)
    assert seen[0]["content"] == pytest.approx(0.5 * factor * float(raw["content"]), rel=1e-5)
    assert seen[0]["tv"] == pytest.approx(2.0 * factor * float(raw["tv"]), rel=1e-5)
    _, _, styled = coarse.evaluator(post)(x)
    assert seen[0]["style/block1_conv2"] == pytest.approx(float(styled["style/block1_conv2"]), rel=1e-5)
    # the final stage is the post's loss as written: the raw weights
    assert len(seen) == 5
    _, _, at_final = final.evaluator(post)(images[2])
    assert images[2].shape[1:3] == FINAL and seen[2]["content"] == pytest.approx(float(at_final["content"]), rel=1e-4)


def test_a_stop_in_the_coarse_stage_still_returns_the_final_size(tiny):
    from helpers.optimize import stylize

    result = stylize(CONTENT, STYLE, size=FINAL, settings=tiny, progress=False, callback=lambda p: True)
    assert "callback" in result.stopped and len(result.history) == 1
    assert result.image.shape == (*FINAL, 3) and result.settings["stages"] == [(COARSE, 1)]


def test_problems_are_built_once_and_shared(tiny):
    from helpers.problem import CACHE, get_problem

    CACHE.clear()
    builds = CACHE.builds
    a = get_problem(CONTENT, STYLE, size=FINAL, settings=tiny)
    b = get_problem(str(CONTENT), STYLE, size=FINAL, settings=tiny.replace(style_weight=1e6, method="adam", strength=0.9))
    assert a is b and CACHE.builds == builds + 1  # weights and method are not part of a problem
    c = get_problem(CONTENT, STYLE, size=FINAL, settings=tiny.replace(style_layers=("block1_conv2",)))
    assert c is not a and CACHE.builds == builds + 2
    rgb = np.asarray(Image.open(CONTENT).convert("RGB"))
    assert get_problem(rgb, STYLE, size=FINAL, settings=tiny) is get_problem(rgb.copy(), STYLE, size=FINAL,
                                                                                settings=tiny)


def test_the_command_builds_each_problem_once_and_runs_what_it_announced(tiny, tmp_path, capsys):
    from helpers import stylize
    from helpers.problem import CACHE

    CACHE.clear()
    builds = CACHE.builds
    out = tmp_path / "out.png"
    status = stylize.main([str(CONTENT), str(STYLE), "--size", "86", "--iterations", "3", "--coarse-iterations", "2",
                           "--precision", "float32", "--save-every", "1", "--output", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert CACHE.builds == builds + 2  # the coarse and the final problem, each once (timing reused the final one)
    assert "64 x 86 px, float32, lbfgs: 2 evaluations at 32 x 43 px, then 3 at 64 x 86 px;" in printed
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.size == (86, 64) and gif.n_frames >= 2


def test_delivered_loss_is_the_loss_of_the_8_bit_picture(tiny):
    import tensorflow as tf

    from helpers import images as im
    from helpers.problem import get_problem

    problem = get_problem(CONTENT, STYLE, size=FINAL, settings=tiny)
    x = problem.initial_image("noise", seed=1) * 1.3 + 0.37  # off the 8-bit grid, some pixels out of range
    rgb = im.deprocess(x)
    expected = float(problem.evaluator(tiny)(tf.constant(im.preprocess(rgb)[None]))[0])
    assert problem.delivered_loss(x, settings=tiny) == expected
    assert problem.delivered_loss(rgb, settings=tiny) == expected
    assert float(problem.evaluator(tiny)(tf.constant(x))[0]) != expected  # the float image is another picture
    with pytest.raises(ValueError, match="px"):
        problem.delivered_loss(rgb[:40], settings=tiny)


# --- colour, several styles, masks (issue 12), on tiny 48 x 64 px problems --------------------------

SECOND = REPO / "images" / "styles" / "starry_night.jpg"
SKY_MASK = REPO / "images" / "masks" / "tuebingen_sky.png"  # two regions: sky and town


def parts_of(problem, settings, init="content"):
    import tensorflow as tf

    _, _, parts = problem.evaluator(settings)(tf.constant(problem.initial_image(init)))
    return {k: float(v) for k, v in parts.items()}


@pytest.mark.parametrize("colour", ["luminance", "swap"])
def test_luminance_and_swap_keep_the_contents_colour_channels(tiny, colour):
    from helpers.colour import rgb_to_yiq
    from helpers.optimize import stylize
    from helpers.problem import get_problem

    # 6 evaluations: L-BFGS's first trial step overshoots, so after 3 the best image can still be the photo
    settings = tiny.replace(coarse_to_fine=(), colour=colour, iterations=6)
    result = stylize(CONTENT, STYLE, size=64, settings=settings, progress=False)
    photo = get_problem(CONTENT, STYLE, size=64, settings=settings).photo_rgb
    assert result.image.shape == photo.shape and result.settings["colour"] == colour
    inside = np.all((result.image > 0) & (result.image < 255), axis=-1)  # clipped pixels cannot keep I, Q
    got, want = rgb_to_yiq(result.image)[inside], rgb_to_yiq(photo)[inside]
    np.testing.assert_allclose(got[:, 1:], want[:, 1:], atol=1.0)  # 8-bit rounding only
    assert np.abs(got[:, 0] - want[:, 0]).mean() > 0.5  # the luminance did change


def test_luminance_transfer_optimizes_grey_pictures(tiny):
    from helpers.problem import get_problem

    problem = get_problem(CONTENT, STYLE, size=64, settings=tiny.replace(colour="luminance"))
    for rgb in (problem.content_rgb, problem.style_rgb):
        assert np.allclose(rgb[..., 0], rgb[..., 1]) and np.allclose(rgb[..., 1], rgb[..., 2])


def test_colour_matching_gives_the_style_the_contents_colour_statistics(tiny):
    from helpers.colour import colour_statistics
    from helpers.problem import get_problem

    problem = get_problem(CONTENT, STYLE, size=64, settings=tiny.replace(colour="match"))
    mean_s, cov_s = colour_statistics(problem.style_rgb)
    mean_c, cov_c = colour_statistics(problem.photo_rgb)
    np.testing.assert_allclose(mean_s, mean_c, atol=4.0)  # after clipping to 0..255 (a few saturated pixels)
    np.testing.assert_allclose(np.sqrt(np.diag(cov_s)), np.sqrt(np.diag(cov_c)), rtol=0.2)


def test_two_identical_styles_blended_give_the_single_style_loss(tiny):
    from helpers.problem import get_problem

    one = get_problem(CONTENT, STYLE, size=64, settings=tiny)
    blended = tiny.replace(style_blend=(0.3, 0.7))
    two = get_problem(CONTENT, [STYLE, STYLE], size=64, settings=blended)
    a, b = parts_of(one, tiny), parts_of(two, blended)
    assert b == pytest.approx(a, rel=1e-4)
    other = get_problem(CONTENT, [STYLE, SECOND], size=64, settings=blended)
    assert parts_of(other, blended)["style/block1_conv2"] != pytest.approx(a["style/block1_conv2"], rel=1e-2)


def test_a_mask_of_one_region_gives_the_unmasked_loss(tiny, tmp_path):
    from helpers.problem import get_problem

    white = tmp_path / "white.png"
    Image.new("RGB", (80, 60), "white").save(white)  # another size: resized
    plain = parts_of(get_problem(CONTENT, STYLE, size=64, settings=tiny), tiny, "noise")
    masked = parts_of(get_problem(CONTENT, [STYLE], size=64, settings=tiny, mask=white), tiny, "noise")
    assert masked == pytest.approx(plain, rel=1e-4)


def test_a_mask_gives_each_region_its_style(tiny):
    from helpers.optimize import stylize

    result = stylize(CONTENT, [SECOND, STYLE], size=64, settings=tiny.replace(coarse_to_fine=()), mask=SKY_MASK,
                     progress=False)
    assert result.image.shape == (48, 64, 3)
    assert all(np.isfinite(h["total"]) for h in result.history)


@pytest.mark.parametrize("styles, blend, mask, message", [
    ([STYLE], None, SKY_MASK, "the mask has 2 regions .* but 1 style pictures"),
    ([STYLE, SECOND, STYLE], None, SKY_MASK, "the mask has 2 regions .* but 3 style pictures"),
    ([STYLE, SECOND], (1.0, 2.0, 3.0), None, "style_blend has 3 weights for 2 style pictures"),
    ([STYLE], None, STYLE, "colours; a label mask has at most"),
])
def test_bad_masks_and_blends_are_one_line_errors(tiny, styles, blend, mask, message):
    from helpers.problem import StyleTransfer

    with pytest.raises(ValueError, match=message) as error:
        StyleTransfer(CONTENT, styles, 64, precision="float32", style_blend=blend, mask=mask)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("isa", ["AVX2", "avx512_core"])
def test_a_onednn_capped_below_bfloat16_computes_in_float32(monkeypatch, isa):
    from helpers.problem import default_precision, resolve_precision

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)  # as the benchmark's AVX2 emulation does
    assert default_precision() == "float32" and resolve_precision("auto") == "float32"
