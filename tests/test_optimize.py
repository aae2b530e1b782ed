"""helpers.problem, helpers.optimizers and helpers.model with the genuine VGG16 weights, on a tiny 48 x 64 problem (float32)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

pytestmark = pytest.mark.slow  # builds VGG16 and optimizes: seconds per test

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"  # 1024 x 768 -> 64 x 48 at size=64
STYLE = REPO / "images" / "styles" / "great_wave.jpg"


@pytest.fixture(scope="module")
def problem(weights_path):
    """One StyleTransfer shared by the tests: VGG16 is built and the loss traced once."""
    from helpers.problem import StyleTransfer

    return StyleTransfer(CONTENT, STYLE, size=64, precision="float32")


def run(problem, iterations, **kwargs):
    kwargs.setdefault("init", "noise")
    return problem.run(iterations, progress=False, **kwargs)


def check_image(result, shape=(48, 64)):
    assert result.image.dtype == np.uint8 and result.image.shape == (*shape, 3)


# --- the optimizers --------------------------------------------------------------------


def test_shape_follows_the_content_aspect_ratio(problem):
    assert problem.shape == (48, 64)
    assert problem.content_rgb.shape == (48, 64, 3)
    assert problem.style_rgb.shape[0] >= 48 and problem.style_rgb.shape[1] >= 64  # "cover"


def test_lbfgs_lowers_the_loss_within_its_budget(problem):
    result = run(problem, 12)
    check_image(result)
    assert result.stopped is None
    assert len(result.history) == 12  # SciPy would overshoot maxfun by one or two
    # from noise, 12 evaluations: the default weights (auto layer balance) fall ~4.7x at 48 x 64 px
    assert result.losses[-1] < result.losses[0] / 4
    assert result.best_loss == result.losses.min()
    assert {"content", "tv", "style/block1_conv2", "seconds", "evaluation"} <= set(result.history[0])
    assert [h["evaluation"] for h in result.history] == list(range(1, 13))


def raw_images(problem, iterations, method):
    """A run's result and every image it evaluated, exactly as optimized (preprocessed floats)."""
    seen = []
    result = run(problem, iterations, method=method, callback=lambda p: seen.append(np.array(p.preprocessed)))
    return result, seen


def test_lbfgs_stays_in_the_pixel_box_so_the_saved_picture_scores_its_own_loss(problem):
    from helpers.optimizers import pixel_box

    result, seen = raw_images(problem, 15, "lbfgs")  # tiny: 15 evaluations at 48 x 64, noise start
    low, high = pixel_box(seen[0].shape)
    assert low[0, 0, 0].tolist() == pytest.approx([-103.939, -116.779, -123.68])  # RGB 0, BGR order
    assert high[0, 0, 0].tolist() == pytest.approx([151.061, 138.221, 131.32])  # RGB 255
    for x in seen:  # every evaluated image, the raw best among them, is inside the box
        assert (x >= low - 1e-4).all() and (x <= high + 1e-4).all()
    delivered = problem.delivered_loss(result.image, settings=problem.settings())
    assert delivered == pytest.approx(result.best_loss, rel=1e-3)  # only the rounding to 8 bits differs


def test_lbfgs_first_step_moves_the_pixels_by_about_first_step_rms_grey_levels(problem):
    from helpers.optimizers import FIRST_STEP_RMS

    # from the content photo (inside the box): SciPy's bounded L-BFGS-B would take the raw
    # gradient as its first step, saturating every pixel; scaled, it moves them ~10 grey levels
    seen = []
    run(problem, 3, init="content", callback=lambda p: seen.append(np.array(p.preprocessed)))
    step = float(np.sqrt(np.mean(np.square(seen[1] - seen[0]))))
    assert 0.5 * FIRST_STEP_RMS < step <= 1.01 * FIRST_STEP_RMS  # the box may clip a few pixels


def test_the_posts_restarts_stay_unbounded_as_the_post_was(problem):
    from helpers.optimizers import pixel_box

    _, seen = raw_images(problem, 15, "restarts")  # the same tiny run: the post's noise leaves the box at once
    low, high = pixel_box(seen[0].shape)
    assert any((x < low).any() or (x > high).any() for x in seen)


@pytest.mark.parametrize("method, iterations", [("restarts", 23), ("adam", 8)])
def test_other_methods_lower_the_loss(problem, method, iterations):
    # 23 evaluations: the post's 20-evaluation L-BFGS run, then a restart for the last 3
    result = run(problem, iterations, method=method)
    check_image(result)
    assert result.stopped is None
    assert len(result.history) == iterations
    assert result.losses[-1] < result.losses[0] / 2


def test_same_seed_same_image_other_seed_other_image(problem):
    a = run(problem, 4, seed=7).image
    b = run(problem, 4, seed=7).image
    c = run(problem, 4, seed=8).image
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 5


def test_initial_images(problem):
    from helpers import images as im

    np.testing.assert_array_equal(problem.initial_image("noise", 3), problem.initial_image("noise", 3))
    assert not np.array_equal(problem.initial_image("noise", 3), problem.initial_image("noise", 4))
    np.testing.assert_allclose(im.deprocess(problem.initial_image("content")), problem.content_rgb, atol=0.5)
    assert problem.initial_image("style").shape == (1, 48, 64, 3)
    with pytest.raises(ValueError, match="init"):
        problem.initial_image("bogus")


def test_frames(problem, tmp_path):
    result = run(problem, 6, frames_every=2)
    assert [n for n, _ in result.frames] == [2, 4, 6]
    assert all(f.dtype == np.uint8 and f.shape == (48, 64, 3) for _, f in result.frames)
    gif = result.save_gif(tmp_path / "progress.gif")
    from PIL import Image

    # 3 frames + the final image; Pillow merges the last two when the final image is frame 6
    distinct = 3 + (not np.array_equal(result.frames[-1][1], result.image))
    with Image.open(gif) as img:
        assert img.n_frames == distinct and img.size == (64, 48)


# --- stopping early ---------------------------------------------------------------------


def test_keyboard_interrupt_returns_the_best_image(problem):
    def interrupt(progress):
        if progress.evaluation == 5:
            raise KeyboardInterrupt

    result = run(problem, 20, callback=interrupt)
    check_image(result)
    assert "interrupted" in result.stopped
    assert len(result.history) == 5
    assert result.best_loss == min(h["total"] for h in result.history)


def test_callback_returning_true_stops(problem):
    seen = []

    def stop_at_3(progress):
        seen.append((progress.evaluation, progress.loss, progress.image().shape))
        return progress.evaluation == 3

    result = run(problem, 20, callback=stop_at_3)
    assert "callback" in result.stopped and len(result.history) == 3
    assert [s[0] for s in seen] == [1, 2, 3] and seen[0][2] == (48, 64, 3)
    assert seen[0][1] == result.history[0]["total"]


def test_nan_loss_stops_cleanly(problem, monkeypatch):
    from helpers.problem import StyleTransfer

    original = StyleTransfer.evaluator
    poison = []  # the callback arms it after evaluation 3, so evaluation 4 returns NaN

    def poisoned(self, settings):
        evaluate = original(self, settings)

        def wrapped(image):
            total, grad, parts = evaluate(image)
            return (tf.constant(np.nan, total.dtype) if poison else total), grad, parts

        return wrapped

    monkeypatch.setattr(StyleTransfer, "evaluator", poisoned)
    result = run(problem, 20, callback=lambda progress: poison.append(1) if progress.evaluation == 3 else None)
    assert "loss became nan at evaluation 4" in result.stopped
    assert len(result.history) == 3
    check_image(result)
    assert np.isfinite(result.best_loss)


def test_a_weight_that_overflows_the_first_evaluation_is_named_before_any_optimization(problem, monkeypatch):
    from helpers.optimizers import WeightTooLarge
    from helpers.problem import StyleTransfer

    with pytest.raises(ValueError, match="too large"):  # absurd weights never reach TensorFlow
        run(problem, 5, weights={"style": 1e38})
    original = StyleTransfer.evaluator

    def overflowing(self, settings):  # as if a weight under the bound still overflowed float32
        evaluate = original(self, settings)

        def wrapped(image):
            total, grad, parts = evaluate(image)
            return tf.constant(np.inf), grad, {**parts, "style/block1_conv2": tf.constant(np.inf)}

        return wrapped

    monkeypatch.setattr(StyleTransfer, "evaluator", overflowing)
    with pytest.raises(WeightTooLarge, match=r"style_weight .* is too large.*style/block1_conv2 part is inf"):
        run(problem, 5, init="content")


def test_an_interruption_while_a_later_stage_is_set_up_keeps_the_earlier_stage(problem, monkeypatch):
    from helpers import optimize
    from helpers.settings import Settings, Stage

    calls = []
    real_run = optimize.run

    def run_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # e.g. SIGTERM while the full size is traced
        return real_run(*args, **kwargs)

    monkeypatch.setattr(optimize, "run", run_then_interrupt)
    settings = problem.settings(iterations=3)
    result = optimize.run_stages([problem, problem], stages=[Stage((48, 64), 0.5, 2), Stage((48, 64), 1.0, 3)],
                                 settings=settings, progress=False)
    assert "interrupted while preparing the 48 x 64 px stage" in result.stopped
    assert len(result.history) == 2 and result.settings["stages"] == [((48, 64), 2)]
    check_image(result)


def test_bad_arguments(problem):
    with pytest.raises(ValueError, match="method"):
        problem.run(1, method="sgd", progress=False)
    with pytest.raises(ValueError, match="normalization"):
        problem.run(1, normalization="bogus", progress=False)


# --- the network ----------------------------------------------------------------------


def test_feature_extractor_is_truncated(weights_path):
    from helpers.model import FeatureExtractor

    assert FeatureExtractor(["block2_conv2"]).depth == 4
    assert FeatureExtractor(["block1_conv1"]).depth == 1
    assert FeatureExtractor(["block5_conv3", "block1_conv2"]).depth == 13
    with pytest.raises(ValueError, match="unknown VGG16 layer"):
        FeatureExtractor(["conv4_2"])


def test_gradient_is_taken_with_respect_to_the_image_only(problem):
    assert problem.extractor.model.trainable_weights == []
    assert len(problem.extractor.model.non_trainable_weights) == 2 * problem.extractor.depth
    evaluate = problem.evaluator(problem.settings())
    x = tf.constant(problem.initial_image("noise"))
    total, grad, parts = evaluate(x)
    assert grad.shape == x.shape and np.all(np.isfinite(grad.numpy()))
    assert float(total) == pytest.approx(sum(float(v) for v in parts.values()), rel=1e-5)


# --- targets and sizes -------------------------------------------------------------------


def test_style_targets_are_rescaled_to_the_result_size(problem):
    from helpers.losses import gram_matrix
    from helpers import images as im

    # the exact rule: Gram of the style image x (result positions / style positions)
    features = problem.extractor(tf.constant(im.preprocess(problem.style_rgb)[None]))
    h, w = problem.style_rgb.shape[:2]
    for layer, pools in (("block1_conv2", 0), ("block3_conv3", 2)):
        style_positions = (h // 2**pools) * (w // 2**pools)
        result_positions = (48 // 2**pools) * (64 // 2**pools)
        expected = gram_matrix(features[layer]).numpy() * result_positions / style_positions
        np.testing.assert_allclose(problem.style_targets[layer].numpy(), expected, rtol=1e-5)


def test_the_same_weights_give_the_same_balance_at_two_sizes(problem, weights_path):
    from helpers.problem import StyleTransfer

    # tiny: 48 x 64 and 96 x 128 px (4x the pixels), one evaluation of the same kind of start (noise)
    larger = StyleTransfer(CONTENT, STYLE, size=128, precision="float32")
    parts = {}
    for p in (problem, larger):
        _, _, weighted = p.evaluator(p.settings())(tf.constant(p.initial_image("noise")))
        parts[p.shape] = {k: float(v) for k, v in weighted.items()}
    small, large = parts[(48, 64)], parts[(96, 128)]
    # content and TV are sums over pixels (4x at 4x the pixels); weighted by rule (a) they agree per picture
    for term in ("content", "tv"):
        assert large[term] / small[term] == pytest.approx(1.0, abs=0.35)
    style_small = sum(v for k, v in small.items() if k.startswith("style/"))
    style_large = sum(v for k, v in large.items() if k.startswith("style/"))
    assert style_large / style_small == pytest.approx(1.0, abs=0.35)


def test_original_normalization_keeps_the_posts_raw_weights(problem):
    x = tf.constant(problem.initial_image("noise"))
    _, _, once = problem.evaluator(problem.settings({"content": 1.0, "tv": 1.0}, "original"))(x)
    _, _, twice = problem.evaluator(problem.settings({"content": 2.0, "tv": 2.0}, "original"))(x)
    assert float(twice["content"]) == pytest.approx(2 * float(once["content"]), rel=1e-6)
    content = problem.extractor(tf.constant(problem.initial_image("content")))["block2_conv2"]
    raw = float(tf.reduce_sum(tf.square(problem.extractor(x)["block2_conv2"] - content)))
    assert float(once["content"]) == pytest.approx(raw, rel=1e-4)  # weight 1 at 48 x 64 px: no size factor


def test_auto_layer_balance_makes_the_style_loss_the_mean_relative_gram_error(problem):
    from helpers.losses import gram_matrix

    x = tf.constant(problem.initial_image("content"))
    features = problem.extractor(x)
    settings = problem.settings({"style": 1.0})
    assert settings.balance == "auto"
    _, _, parts = problem.evaluator(settings)(x)
    layers = problem.style_layers
    for layer in layers:
        g, a = gram_matrix(features[layer]).numpy(), problem.style_targets[layer].numpy()
        relative = np.sum((g - a) ** 2) / np.sum(a**2)
        assert float(parts[f"style/{layer}"]) == pytest.approx(relative / len(layers), rel=1e-3)
    # every layer counts: no layer's share is below 1 % (with "equal", block5's is ~1e-8 of the total)
    shares = np.array([float(parts[f"style/{layer}"]) for layer in layers])
    assert shares.min() / shares.sum() > 0.01
    _, _, equal = problem.evaluator(problem.settings({"style": 1.0}, layer_balance="equal"))(x)
    equal_shares = np.array([float(equal[f"style/{layer}"]) for layer in layers])
    assert equal_shares[-1] / equal_shares.sum() < 1e-3


def test_explicit_layer_weights_multiply_the_auto_balance(problem):
    x = tf.constant(problem.initial_image("content"))
    base = problem.settings({"style": 1.0})
    doubled = base.replace(style_layer_weights=(0.4, 0.2, 0.2, 0.2, 0.2))
    _, _, a = problem.evaluator(base)(x)
    _, _, b = problem.evaluator(doubled)(x)
    assert float(b["style/block1_conv2"]) == pytest.approx(2 * float(a["style/block1_conv2"]), rel=1e-5)
    assert float(b["style/block2_conv2"]) == pytest.approx(float(a["style/block2_conv2"]), rel=1e-5)


def test_style_scale_keeps_the_target_comparable(problem):
    from helpers.problem import StyleTransfer

    bigger = StyleTransfer(CONTENT, STYLE, size=64, precision="float32", style_scale=2)
    assert bigger.style_rgb.shape[0] == 2 * problem.style_rgb.shape[0]
    # 4x the positions: without the rescaling the Gram would be ~4x as large (300% off);
    # with it, the finest layer's statistics agree within 25% (measured: ~12%)
    a, b = problem.style_targets["block1_conv2"].numpy(), bigger.style_targets["block1_conv2"].numpy()
    assert np.linalg.norm(b - a) / np.linalg.norm(a) < 0.25


def test_exact_size(weights_path):
    from helpers.problem import StyleTransfer

    p = StyleTransfer(CONTENT, STYLE, size=(48, 64), content_layer=None, style_layers=["block1_conv2"],
                      precision="float32")
    assert p.shape == (48, 64) and p.content_rgb.shape == (48, 64, 3)
    assert p.content_target is None and list(p.style_targets) == ["block1_conv2"]


@pytest.mark.parametrize("size", [16, (20, 64), (64, 31)])
def test_too_small_size_raises(weights_path, size):
    from helpers.images import ImageError
    from helpers.problem import StyleTransfer

    with pytest.raises(ImageError, match="too small"):
        StyleTransfer(CONTENT, STYLE, size=size, precision="float32")


def test_panorama_too_thin_at_this_size_raises(weights_path):
    from helpers.images import ImageError
    from helpers.problem import StyleTransfer

    panorama = np.full((40, 400, 3), 128, np.uint8)  # loads fine, but 64 px wide leaves 6 px high
    with pytest.raises(ImageError, match="too small"):
        StyleTransfer(panorama, STYLE, size=64, precision="float32")


def test_bad_options(weights_path):
    from helpers.problem import StyleTransfer

    with pytest.raises(ValueError, match="precision"):
        StyleTransfer(CONTENT, STYLE, size=64, precision="float16")
    with pytest.raises(ValueError, match="style_fit"):
        StyleTransfer(CONTENT, STYLE, size=64, style_fit="crop")


def test_custom_losses_are_the_ones_used(problem):
    """StyleTransfer(losses=...): a student's functions replace helpers.losses (tiny 48 x 64 problem, float32)."""
    from helpers import losses
    from helpers.problem import StyleTransfer

    def doubled_content_loss(base_features, combination_features):  # deliberately 2 x the right one
        return 2.0 * losses.content_loss(base_features, combination_features)

    def student_style_loss(style_gram, combination_features):  # the student's signature, Gatys normalization
        return losses.style_loss(style_gram, combination_features, "gatys")

    custom = StyleTransfer(CONTENT, STYLE, size=64, precision="float32",
                           losses={"content_loss": doubled_content_loss, "style_loss": student_style_loss})
    x = tf.constant(problem.initial_image("noise", seed=0))
    weights = {"content": 1.0, "style": 0.0, "tv": 0.0}
    right, wrong = (float(p.loss_function(weights)(x)[0]) for p in (problem, custom))
    assert wrong == pytest.approx(2 * right, rel=1e-6)
    style_only = {"content": 0.0, "style": 1.0, "tv": 0.0}
    assert float(custom.loss_function(style_only)(x)[0]) == pytest.approx(float(problem.loss_function(style_only)(x)[0]),
                                                                         rel=1e-5)
    with pytest.raises(ValueError, match="custom style_loss"):
        custom.loss_function({}, normalization="original")
    with pytest.raises(ValueError, match="unknown name 'gram'"):
        StyleTransfer(CONTENT, STYLE, size=64, losses={"gram": losses.gram_matrix})


def test_a_custom_gram_matrix_makes_the_style_targets(problem):
    from helpers import losses
    from helpers.problem import StyleTransfer

    halved = StyleTransfer(CONTENT, STYLE, size=64, precision="float32",
                           losses={"gram_matrix": lambda f: 0.5 * losses.gram_matrix(f)})
    for layer, target in problem.style_targets.items():
        np.testing.assert_allclose(halved.style_targets[layer].numpy(), 0.5 * target.numpy(), rtol=1e-6)
