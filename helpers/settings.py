"""The choices, the defaults and one validated run-settings object; no TensorFlow here.

    from helpers.settings import Settings, plan_stages
    s = Settings(style_weight=1e14, iterations=50)  # everything else: the defaults
    s.weights                                       # {"content": 1.0, "style": 1e14, "tv": 1.0}
    s.replace(method="adam")                        # a new, validated Settings
    plan_stages(final_shape=(384, 512), iterations=100, coarse_to_fine=((0.5, 100),))

The command line, `helpers.optimize.stylize`, the explorer and the benchmark all build a
`Settings`, so each rule (a choice list, a default, a check) is written once, here. The
module imports only the standard library and NumPy/PIL (through `helpers.images`), so
`python -m helpers.stylize --help` and every argument check run without TensorFlow.

To add a loss term: write it in `helpers/losses.py`, add its weight here (a field, its
default in DEFAULT_WEIGHTS, and `weights`), and add it to `losses.total_loss`.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence

from helpers.images import MIN_SIDE
from helpers.weights import CONV_LAYERS

METHODS = ("lbfgs", "restarts", "adam")  # keys of helpers.optimizers.OPTIMIZERS (a test ties the two)
INITS = ("content", "noise", "style")  # start images; the first is the default
NORMALIZATIONS = ("gatys", "original")  # style-loss normalizations, see helpers.losses.style_loss
PRECISIONS = ("auto", "float32", "bfloat16")  # "auto": bfloat16 where the hardware computes it natively
STYLE_FITS = ("cover", "stretch")  # how the style image is resized, see helpers.problem.StyleTransfer
LAYER_BALANCES = ("auto", "equal")  # how the style weight is shared between the style layers, see Settings
COLOURS = ("style", "luminance", "match", "swap")  # colour control, see helpers.problem.StyleTransfer

CONTENT_LAYER = "block2_conv2"  # the original post's choice
STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")

# Weights for each normalization, meant at REFERENCE_PIXELS (see `weights_at_size`).
# "original" are the post's, reproduced exactly, with equal layer shares.
# "gatys" go with layer_balance "auto" (every style layer normalized by its target's size,
# so the style loss is a mean relative Gram error): 1e13 is the scale of the style loss
# that today's 512 px defaults had from the content image (benchmarks/results/balance.md).
# Under layer_balance "equal" the gatys style default is EQUAL_BALANCE_STYLE_WEIGHT, chosen
# by stylizing Tübingen as The Great Wave at 512 px (3e4 and 1e5 both strong and clean,
# 3e4 keeps more of the buildings). TV 1 and 0.01 look the same from the content image,
# which has no speckle to remove; from noise, notebook 05 shows that ~100x more TV is needed.
DEFAULT_WEIGHTS = {
    "original": {"content": 0.025, "style": 5.0, "tv": 1.0},
    "gatys": {"content": 1.0, "style": 1e13, "tv": 1.0},
}
EQUAL_BALANCE_STYLE_WEIGHT = 3e4  # the "gatys" style default under layer_balance "equal"
REFERENCE_PIXELS = 512 * 384  # the size the "gatys" content and TV weights mean (a 4:3 photo at 512 px)
# The command's default pyramid: 60 evaluations at a quarter of the size, 30 at half, then
# (helpers.stylize.DEFAULT_ITERATIONS) 15 at full size: at 512 px about 50 s of optimization on 2
# cores emulating AVX2, about 100 s on a real 2-core AVX2 laptop-class CPU (benchmarks/experiments/RESULTS.md, section 5)
DEFAULT_COARSE_TO_FINE = ((0.25, 60), (0.5, 30))
FLOAT32_MAX = 3.4028234663852886e38  # the weights become float32 tensors, and so does the loss
# A generous upper bound of each unweighted loss term at any size that fits in memory: at
# 512 px from noise the post's losses are ~1e11; the content and TV terms are sums over
# pixels, so a 16-megapixel result scales that by ~100. A weight above FLOAT32_MAX / LOSS_BOUND
# could overflow the loss at the first evaluation, so it is refused before TensorFlow starts
# (helpers.optimizers.check_first_evaluation catches what this bound cannot, exactly).
LOSS_BOUND = 1e18
MAX_WEIGHT = FLOAT32_MAX / LOSS_BOUND  # about 3.4e20


def check_weight(value: float, *, name: str) -> float:
    """`value` as a float if it is a usable loss weight (finite, >= 0, at most MAX_WEIGHT), else ValueError."""
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value}")
    if value > MAX_WEIGHT:
        raise ValueError(f"{name} {value:g} is too large: the loss would overflow float32 (at most {MAX_WEIGHT:.3g})")
    return value


def equal_layer_weights(style_layers: Sequence[str]) -> dict[str, float]:
    """The default share of the style weight of each style layer: equal, summing to 1."""
    return {layer: 1.0 / len(style_layers) for layer in style_layers}


def pixel_ratio(from_shape: Sequence[int], to_shape: Sequence[int]) -> float:
    """Pixels of `from_shape` / pixels of `to_shape`, both (height, width)."""
    return (from_shape[0] * from_shape[1]) / float(to_shape[0] * to_shape[1])


def weights_at_size(weights: Mapping[str, float], *, shape: Sequence[int], normalization: str) -> dict[str, float]:
    """The weights actually used for a result of `shape` (height, width) px: rule (a).

    "gatys": the content and TV losses are sums over pixels, so they grow with the pixel
    count, while the style loss is normalized per layer and does not. The content and TV
    weights are therefore multiplied by REFERENCE_PIXELS / (H * W): the same weights give
    the same balance at every size (and exactly themselves at 512 x 384 px).
    "original": unchanged (the post's literal objective, reproduced as it was); only a
    coarse stage of a run is rebalanced to the run's final size, by `settings_for_stage`
    (this function does not know the final size).
    `helpers.problem.StyleTransfer.evaluator` applies this to every run at every size
    (command, `stylize()`, coarse stages, the explorer): the one place the rule lives.
    """
    _choice(normalization, NORMALIZATIONS, "normalization")
    if normalization == "original":
        return dict(weights)
    factor = REFERENCE_PIXELS / float(int(shape[0]) * int(shape[1]))
    return {**weights, "content": weights["content"] * factor, "tv": weights["tv"] * factor}


def strength_factor(strength: float) -> float:
    """Rule (c): the factor on the style weight, 100 ** (strength - 0.5): 0.1 at 0, 1 at 0.5, 10 at 1."""
    return 100.0 ** (float(strength) - 0.5)


def _choice(value, choices, name: str):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, not {value!r}")
    return value


def _whole(value, low: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, not {value}")
    return int(value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything that decides a run except the images and the size; validated, immutable.

    content_weight, style_weight, tv_weight: None takes DEFAULT_WEIGHTS[normalization]
        (the style weight under "gatys" with layer_balance "equal": EQUAL_BALANCE_STYLE_WEIGHT).
        They mean the balance at REFERENCE_PIXELS; every size gets the same balance
        (`weights_at_size`, applied when the loss is evaluated).
    strength: 0..1, the style knob on top of the style weight: the weight used is
        style_weight x 100 ** (strength - 0.5) (x0.1 at 0, as given at 0.5, x10 at 1).
    layer_balance: one of LAYER_BALANCES, or None ("auto" for "gatys", "equal" for
        "original"). "auto" divides each style layer's loss by its value for an image
        whose features are zero (4 N^2 M^2 / ||A||^2 in "gatys"), so every layer counts
        and the style loss is the mean relative Gram error; "equal" leaves the layers'
        losses as they are (deep layers then add almost nothing in "gatys"). "auto" needs
        the "gatys" normalization.
    style_layer_weights: the share of the style weight of each style layer, in the
        order of `style_layers` (or a {layer: weight} mapping); None: equal, summing to 1.
        Under "auto" they multiply the per-layer normalization.
    colour: one of COLOURS: "style" (the painting's colours), "luminance" (transfer on
        luminance only, the photo's colours put back), "match" (the painting's colours
        mapped to the photo's before transfer), "swap" (the result's colours swapped
        for the photo's afterwards).
    style_blend: one weight >= 0 per style image (not all zero) when several are given
        without a mask; None: equal.
    content_layer: the VGG16 layer compared with the content image, or None (texture only).
    style_layers: the layers whose Gram matrices are matched.
    normalization, method, init, precision, style_fit: one of NORMALIZATIONS, METHODS,
        INITS, PRECISIONS, STYLE_FITS.
    seed: for init "noise". iterations: loss evaluations at full size.
    coarse_to_fine: stages before the full size, as (scale, evaluations) pairs, e.g.
        ((0.5, 100),); see `plan_stages`.
    style_scale: extra factor on the style image's size (< 1: larger brush strokes).
    learning_rate: Adam's step in grey levels (method "adam" only).

    `weights` ({"content", "style", "tv"}: the style weight with the strength applied, the
    content and TV weights at REFERENCE_PIXELS), `layer_weights` ({layer: share}) and
    `balance` (the layer balance used) are the resolved values, computed once when the
    object is made. `replace(**changes)` returns
    a new, validated Settings. Bad values raise ValueError naming the field.
    """

    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    style_layer_weights: tuple[float, ...] | None = None
    content_layer: str | None = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    normalization: str = "gatys"
    method: str = "lbfgs"
    init: str = "content"
    seed: int = 0
    precision: str = "auto"
    iterations: int = 100
    coarse_to_fine: tuple[tuple[float, int], ...] = ()
    style_fit: str = "cover"
    style_scale: float = 1.0
    learning_rate: float = 10.0
    strength: float = 0.5
    layer_balance: str | None = None
    colour: str = "style"
    style_blend: tuple[float, ...] | None = None
    weights: Mapping[str, float] = dataclasses.field(init=False, repr=False, compare=False)
    layer_weights: Mapping[str, float] = dataclasses.field(init=False, repr=False, compare=False)
    balance: str = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        def put(name, value):  # frozen: fields are set once, here
            object.__setattr__(self, name, value)

        _choice(self.normalization, NORMALIZATIONS, "normalization")
        _choice(self.method, METHODS, "method")
        _choice(self.init, INITS, "init")
        _choice(self.precision, PRECISIONS, "precision")
        _choice(self.style_fit, STYLE_FITS, "style_fit")
        _choice(self.colour, COLOURS, "colour")
        if self.layer_balance is not None:
            _choice(self.layer_balance, LAYER_BALANCES, "layer_balance")
        balance = self.layer_balance or ("auto" if self.normalization == "gatys" else "equal")
        if balance == "auto" and self.normalization != "gatys":
            raise ValueError('layer_balance "auto" needs normalization "gatys" (use "equal" with "original")')
        put("balance", balance)
        strength = float(self.strength)
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must lie between 0 and 1, not {self.strength}")
        put("strength", strength)
        if self.style_blend is not None:
            blend = tuple(float(b) for b in self.style_blend)
            if not blend or not all(math.isfinite(b) and b >= 0 for b in blend) or sum(blend) <= 0:
                raise ValueError(f"style_blend must be numbers >= 0, not all zero, not {self.style_blend}")
            put("style_blend", blend)
        if self.content_layer is not None:
            _choice(self.content_layer, tuple(CONV_LAYERS), "content_layer")
        if isinstance(self.style_layers, str):
            raise ValueError(f"style_layers must be a sequence of layer names, not the string {self.style_layers!r}")
        put("style_layers", tuple(self.style_layers))
        for layer in self.style_layers:
            _choice(layer, tuple(CONV_LAYERS), "style_layers")
        if len(set(self.style_layers)) != len(self.style_layers):
            raise ValueError(f"style_layers has a layer twice: {self.style_layers}")
        put("seed", _whole(self.seed, 0, "seed"))  # NumPy's generators take seeds >= 0
        put("iterations", _whole(self.iterations, 1, "iterations"))
        style_scale = float(self.style_scale)
        if not math.isfinite(style_scale) or style_scale <= 0:
            raise ValueError(f"style_scale must be a finite number > 0, not {self.style_scale}")
        put("style_scale", style_scale)
        learning_rate = float(self.learning_rate)
        if not math.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a finite number > 0, not {self.learning_rate}")
        put("learning_rate", learning_rate)
        stages = []
        for stage in self.coarse_to_fine:
            try:
                scale, n = stage
            except (TypeError, ValueError):
                raise ValueError(f"coarse_to_fine must hold (scale, evaluations) pairs, not {stage!r}") from None
            if not (0 < float(scale) < 1):
                raise ValueError(f"coarse_to_fine scales must lie between 0 and 1, not {scale}")
            stages.append((float(scale), _whole(n, 0, "coarse_to_fine evaluations")))
        put("coarse_to_fine", tuple(stages))

        given = {"content": self.content_weight, "style": self.style_weight, "tv": self.tv_weight}
        weights = dict(DEFAULT_WEIGHTS[self.normalization])
        if self.normalization == "gatys" and balance == "equal":
            weights["style"] = EQUAL_BALANCE_STYLE_WEIGHT
        for term, value in given.items():
            if value is not None:
                weights[term] = check_weight(value, name=f"{term}_weight")
        weights["style"] = check_weight(weights["style"] * strength_factor(strength), name="style weight x strength")
        put("weights", weights)
        put("layer_weights", self._resolve_layer_weights())
        if self.style_layer_weights is not None:
            put("style_layer_weights", tuple(self.layer_weights[layer] for layer in self.style_layers))

    def _resolve_layer_weights(self) -> dict[str, float]:
        given = self.style_layer_weights
        if given is None:
            return equal_layer_weights(self.style_layers)
        if isinstance(given, Mapping):
            unknown = set(given) - set(self.style_layers)
            if unknown:
                raise ValueError(f"style_layer_weights names layers not in style_layers: {sorted(unknown)}")
            given = [given.get(layer, 0.0) for layer in self.style_layers]
        given = list(given)
        if len(given) != len(self.style_layers):
            raise ValueError(f"style_layer_weights needs one weight per style layer ({len(self.style_layers)}), "
                             f"not {len(given)}")
        return {layer: check_weight(v, name=f"style_layer_weights[{layer!r}]")
                for layer, v in zip(self.style_layers, given)}

    def replace(self, **changes) -> Settings:
        """A new Settings with these fields changed (validated again; weights resolved again)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a coarse-to-fine run.

    shape: (height, width) in px. scale: of the final size (1.0 for the last stage).
    iterations: loss evaluations. A stage runs with `settings_for_stage`.
    """

    shape: tuple[int, int]
    scale: float
    iterations: int


def plan_stages(*, final_shape: Sequence[int], iterations: int, coarse_to_fine=()) -> list[Stage]:
    """The stages a run will execute, smallest first, the final size last.

    A coarse stage whose shape would be under VGG16's minimum side (MIN_SIDE px) is
    dropped here, and a stage of 0 evaluations too, so what a caller announces is
    exactly what runs.
    """
    final_shape = (int(final_shape[0]), int(final_shape[1]))
    stages = []
    for scale, n in coarse_to_fine:
        shape = tuple(round(side * float(scale)) for side in final_shape)
        if min(shape) >= MIN_SIDE and int(n) > 0:
            stages.append(Stage(shape, float(scale), int(n)))
    return stages + [Stage(final_shape, 1.0, int(iterations))]


def settings_for_stage(settings: Settings, *, stage: Stage, final_shape: Sequence[int]) -> Settings:
    """The settings one stage of a run optimizes with: `settings` with the stage's evaluations.

    "gatys": nothing else; the loss applies `weights_at_size` at every size, so every
    stage has the balance the weights mean. "original": the post's loss is literal at the
    result's size only, and the same raw weights at a coarse stage favour the style by
    final px / stage px (16x at a quarter of the side: content and TV are sums over
    positions, the post's style loss is not). A coarse stage only prepares a start for the
    final size, so it keeps the final size's balance: content and TV weights x final px /
    stage px. From noise at 384 x 512 px this cut the full-size evaluations needed to
    reach the post's picture from 66 to 41 (benchmarks/experiments/RESULTS.md, section 6).
    """
    settings = settings.replace(iterations=stage.iterations)
    if settings.normalization != "original" or tuple(stage.shape) == tuple(final_shape):
        return settings
    factor = pixel_ratio(final_shape, stage.shape)
    return settings.replace(content_weight=settings.weights["content"] * factor,
                            tv_weight=settings.weights["tv"] * factor)
