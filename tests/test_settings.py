"""helpers.settings: the choices, Settings' validation, the stage plan and the size rule (no TensorFlow)."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import settings as st
from helpers.settings import Settings, plan_stages

REPO = Path(__file__).resolve().parents[1]


def test_settings_and_the_command_line_need_no_tensorflow():
    # a fresh process: this one may have imported TensorFlow for other tests
    code = ("import sys; import helpers.settings, helpers.stylize as s; p = s.build_parser(); "
            "a = p.parse_args(['--size', '64']); s.settings_from_args(a); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_defaults_are_resolved_once_from_the_normalization():
    s = Settings()
    assert s.weights == st.DEFAULT_WEIGHTS["gatys"]
    assert s.layer_weights == {layer: pytest.approx(0.2) for layer in st.STYLE_LAYERS}
    assert sum(s.layer_weights.values()) == pytest.approx(1.0)
    post = Settings(normalization="original", style_weight=7.0)
    assert post.weights == {"content": 0.025, "style": 7.0, "tv": 1.0}
    # replace() resolves again: the given style weight is kept, the others follow the normalization
    assert post.replace(normalization="gatys").weights == {"content": 1.0, "style": 7.0, "tv": 1.0}
    # the layer balance follows the normalization too, and with it the gatys style default
    assert (s.balance, post.balance) == ("auto", "equal")
    assert s.weights["style"] == 1e13
    equal = Settings(layer_balance="equal")
    assert equal.weights == {"content": 1.0, "style": st.EQUAL_BALANCE_STYLE_WEIGHT, "tv": 1.0}
    assert equal.replace(layer_balance=None).balance == "auto"


def test_settings_are_immutable_and_replace_validates():
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.iterations = 5
    t = s.replace(iterations=5, method="adam")
    assert (t.iterations, t.method, s.iterations, s.method) == (5, "adam", 100, "lbfgs")
    with pytest.raises(ValueError, match="^method must be one of"):
        s.replace(method="sgd")


@pytest.mark.parametrize("changes, field", [
    ({"method": "sgd"}, "method"),
    ({"init": "photo"}, "init"),
    ({"normalization": "bogus"}, "normalization"),
    ({"precision": "float16"}, "precision"),
    ({"style_fit": "crop"}, "style_fit"),
    ({"content_layer": "conv4_2"}, "content_layer"),
    ({"style_layers": ("block1_conv2", "block9_conv1")}, "style_layers"),
    ({"style_layers": "block1_conv2"}, "style_layers"),
    ({"style_layers": ("block1_conv2", "block1_conv2")}, "style_layers"),
    ({"iterations": 0}, "iterations"),
    ({"iterations": 2.5}, "iterations"),
    ({"seed": "1"}, "seed"),
    ({"seed": -1}, "seed"),  # NumPy's generators refuse it, after TensorFlow's minute of setup
    ({"style_weight": 1e30}, "style_weight"),  # would overflow the float32 loss
    ({"style_weight": -1.0}, "style_weight"),
    ({"tv_weight": float("nan")}, "tv_weight"),
    ({"content_weight": 1e300}, "content_weight"),
    ({"style_layer_weights": (1.0, 2.0)}, "style_layer_weights"),
    ({"style_layer_weights": {"block5_conv1": 1.0}}, "style_layer_weights"),
    ({"coarse_to_fine": ((1.5, 10),)}, "coarse_to_fine"),
    ({"coarse_to_fine": (0.5,)}, "coarse_to_fine"),
    ({"style_scale": 0}, "style_scale"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"strength": 1.5}, "strength"),
    ({"strength": -0.1}, "strength"),
    ({"strength": float("nan")}, "strength"),
    ({"layer_balance": "relative"}, "layer_balance"),
    ({"layer_balance": "auto", "normalization": "original"}, "layer_balance"),
    ({"colour": "sepia"}, "colour"),
    ({"style_blend": (0.5, -0.5)}, "style_blend"),
    ({"style_blend": (0.0, 0.0)}, "style_blend"),
    ({"style_blend": ()}, "style_blend"),
    ({"strength": 1.0, "style_weight": 1e20}, "strength"),  # 1e21 after the strength: overflows
])
def test_bad_values_are_one_line_naming_the_field(changes, field):
    with pytest.raises(ValueError) as error:
        Settings(**changes)
    message = str(error.value)
    assert field in message and "\n" not in message


def test_style_layer_weights_by_order_or_by_name():
    layers = ("block1_conv2", "block3_conv3")
    by_order = Settings(style_layers=layers, style_layer_weights=(0.75, 0.25))
    by_name = Settings(style_layers=layers, style_layer_weights={"block3_conv3": 0.25, "block1_conv2": 0.75})
    assert by_order.layer_weights == by_name.layer_weights == {"block1_conv2": 0.75, "block3_conv3": 0.25}
    assert by_name.style_layer_weights == (0.75, 0.25)  # stored as a tuple, immutable
    texture = Settings(content_layer=None, style_layers=layers)
    assert texture.layer_weights == st.equal_layer_weights(layers) == {"block1_conv2": 0.5, "block3_conv3": 0.5}


def test_weights_at_size_scale_content_and_tv_by_reference_pixels_over_pixels():
    weights = {"content": 2.0, "style": 1e4, "tv": 0.5}
    ratio = st.REFERENCE_PIXELS / (144 * 192)
    assert ratio == pytest.approx(512 * 384 / (144 * 192))
    scaled = st.weights_at_size(weights, shape=(144, 192), normalization="gatys")
    assert scaled == pytest.approx({"content": 2.0 * ratio, "style": 1e4, "tv": 0.5 * ratio})
    assert weights == {"content": 2.0, "style": 1e4, "tv": 0.5}  # not modified in place
    # at the reference size the weights mean exactly themselves; "original" is the post's objective, unchanged
    assert st.weights_at_size(weights, shape=(384, 512), normalization="gatys") == weights
    assert st.weights_at_size(weights, shape=(144, 192), normalization="original") == weights


def test_weights_at_two_sizes_keep_the_same_content_to_tv_per_pixel_balance():
    # a loss that is a sum over pixels, P * c, weighted at two sizes gives the same value: per-pixel balance kept
    small = st.weights_at_size(st.DEFAULT_WEIGHTS["gatys"], shape=(96, 128), normalization="gatys")
    large = st.weights_at_size(st.DEFAULT_WEIGHTS["gatys"], shape=(384, 512), normalization="gatys")
    for term in ("content", "tv"):
        assert small[term] * 96 * 128 == pytest.approx(large[term] * 384 * 512)
    assert small["style"] == large["style"]


@pytest.mark.parametrize("strength, factor", [(0.0, 0.1), (0.5, 1.0), (1.0, 10.0), (0.6, 10**0.2)])
def test_strength_scales_the_style_weight_used(strength, factor):
    s = Settings(strength=strength)
    assert s.weights["style"] == pytest.approx(1e13 * factor)
    assert Settings(style_weight=2.0, strength=strength).weights["style"] == pytest.approx(2.0 * factor)
    assert s.weights["content"] == 1.0 and s.weights["tv"] == 1.0


# --- the stage plan ---------------------------------------------------------------------------


def test_plan_keeps_a_coarse_stage_that_fits():
    stages = plan_stages(final_shape=(384, 512), iterations=15, coarse_to_fine=st.DEFAULT_COARSE_TO_FINE)
    assert [(s.shape, s.scale, s.iterations) for s in stages] == [((96, 128), 0.25, 60), ((192, 256), 0.5, 30),
                                                                   ((384, 512), 1.0, 15)]


@pytest.mark.parametrize("final_shape", [(48, 64), (62, 80), (60, 90)])
def test_plan_drops_a_stage_too_small_for_vgg16(final_shape):
    # half of 48 x 64 is 24 x 32: under VGG16's 32 px minimum, so only the full size runs
    stages = plan_stages(final_shape=final_shape, iterations=7, coarse_to_fine=((0.5, 100),))
    assert [(s.shape, s.iterations) for s in stages] == [(final_shape, 7)]


def test_plan_keeps_a_stage_of_exactly_the_minimum_and_drops_empty_stages():
    stages = plan_stages(final_shape=(64, 86), iterations=3, coarse_to_fine=((0.5, 2), (0.75, 0)))
    assert [(s.shape, s.iterations) for s in stages] == [((32, 43), 2), ((64, 86), 3)]


@pytest.mark.parametrize("size, expected", [
    (64, "3 evaluations at 48 x 64 px"),
    (128, "30 evaluations at 48 x 64 px, then 3 at 96 x 128 px"),  # a quarter (24 x 32 px) is too small
    (512, "60 evaluations at 96 x 128 px, then 30 at 192 x 256 px, then 3 at 384 x 512 px"),
])
def test_the_command_announces_the_planned_stages(size, expected):
    from helpers import stylize

    args = stylize.build_parser().parse_args([str(REPO / "images/content/tuebingen.jpg"), "--size", str(size),
                                              "--iterations", "3"])
    settings = stylize.settings_from_args(args)
    shape = {64: (48, 64), 128: (96, 128), 512: (384, 512)}[size]  # the photo is 1024 x 768
    assert stylize.describe_plan(plan_stages(final_shape=shape, iterations=settings.iterations,
                                             coarse_to_fine=settings.coarse_to_fine)) == expected


def test_a_coarse_stage_of_the_posts_loss_keeps_the_final_sizes_balance():
    post = st.Settings(normalization="original", iterations=7, strength=0.7)
    coarse = st.Stage((96, 128), 0.25, 60)
    used = st.settings_for_stage(post, stage=coarse, final_shape=(384, 512))
    assert used.iterations == 60
    assert used.weights["content"] == pytest.approx(16 * post.weights["content"])
    assert used.weights["tv"] == pytest.approx(16 * post.weights["tv"])
    assert used.weights["style"] == pytest.approx(post.weights["style"])  # the strength is applied once
    final = st.settings_for_stage(post, stage=st.Stage((384, 512), 1.0, 15), final_shape=(384, 512))
    assert final.weights == post.weights and final.iterations == 15
    gatys = st.Settings()  # its loss keeps the balance at every size by itself (weights_at_size)
    assert st.settings_for_stage(gatys, stage=coarse, final_shape=(384, 512)).weights == gatys.weights
