"""The choices, the defaults and one validated run-settings object; no TensorFlow here.

    from helpers.settings import Settings, plan_stages
    s = Settings(style_weight=1e5, iterations=50)   # everything else: the defaults
    s.weights                                       # {"content": 1.0, "style": 100000.0, "tv": 1.0}
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

CONTENT_LAYER = "block2_conv2"  # the original post's choice
STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")

# Weights for each normalization. "original" are the post's, reproduced exactly.
# "gatys" were chosen by stylizing Tübingen as The Great Wave from the content image with
# 100-150 L-BFGS evaluations: at 256 px a style weight of 1e3 leaves the photo barely
# tinted, 1e4 paints it strongly and 1e5 washes the buildings out; at 512 px, where the
# content loss (a sum over 4x the pixels) weighs 4x more, 3e4 and 1e5 both give a strong,
# clean picture with the buildings intact, and 3e4 keeps more of them. TV 1 and 0.01 look
# the same from the content image, which has no speckle to remove; from noise, notebook
# 05 shows that about 100x more TV is needed.
DEFAULT_WEIGHTS = {
    "original": {"content": 0.025, "style": 5.0, "tv": 1.0},
    "gatys": {"content": 1.0, "style": 3e4, "tv": 1.0},
}
DEFAULT_COARSE_TO_FINE = ((0.5, 100),)  # the command's default: 100 evaluations at half size (benchmarks/benchmark.py)
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


def weights_at_size(weights: Mapping[str, float], *, pixel_ratio: float) -> dict[str, float]:
    """Weights for a run at another size that keep the balance the weights had at theirs.

    pixel_ratio: pixels of the size the weights were chosen at / pixels of the new size.
    The content and TV losses are sums over pixels, so they grow with the pixel count;
    the style loss is normalized per layer and does not. Multiplying the content and TV
    weights by the ratio keeps the three terms in the same proportion. This is the one
    place that rule lives (coarse-to-fine stages, the explorer's full-size render).
    """
    return {**weights, "content": weights["content"] * pixel_ratio, "tv": weights["tv"] * pixel_ratio}


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

    content_weight, style_weight, tv_weight: None takes DEFAULT_WEIGHTS[normalization].
    style_layer_weights: the share of the style weight of each style layer, in the
        order of `style_layers` (or a {layer: weight} mapping); None: equal, summing to 1.
    content_layer: the VGG16 layer compared with the content image, or None (texture only).
    style_layers: the layers whose Gram matrices are matched.
    normalization, method, init, precision, style_fit: one of NORMALIZATIONS, METHODS,
        INITS, PRECISIONS, STYLE_FITS.
    seed: for init "noise". iterations: loss evaluations at full size.
    coarse_to_fine: stages before the full size, as (scale, evaluations) pairs, e.g.
        ((0.5, 100),); see `plan_stages`.
    style_scale: extra factor on the style image's size (< 1: larger brush strokes).
    learning_rate: Adam's step in grey levels (method "adam" only).

    `weights` ({"content", "style", "tv"}) and `layer_weights` ({layer: share}) are the
    resolved values, computed once when the object is made. `replace(**changes)` returns
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
    weights: Mapping[str, float] = dataclasses.field(init=False, repr=False, compare=False)
    layer_weights: Mapping[str, float] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        def put(name, value):  # frozen: fields are set once, here
            object.__setattr__(self, name, value)

        _choice(self.normalization, NORMALIZATIONS, "normalization")
        _choice(self.method, METHODS, "method")
        _choice(self.init, INITS, "init")
        _choice(self.precision, PRECISIONS, "precision")
        _choice(self.style_fit, STYLE_FITS, "style_fit")
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
        for term, value in given.items():
            if value is not None:
                weights[term] = check_weight(value, name=f"{term}_weight")
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

    def rescaled(self, *, pixel_ratio: float) -> Settings:
        """These settings for another size: the weights through `weights_at_size`."""
        weights = weights_at_size(self.weights, pixel_ratio=pixel_ratio)
        return self.replace(content_weight=weights["content"], style_weight=weights["style"], tv_weight=weights["tv"])


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a coarse-to-fine run.

    shape: (height, width) in px. scale: of the final size (1.0 for the last stage).
    iterations: loss evaluations. pixel_ratio: final pixels / this stage's pixels, as
    1 / scale**2, the factor on the content and TV weights (see `weights_at_size`).
    """

    shape: tuple[int, int]
    scale: float
    iterations: int

    @property
    def pixel_ratio(self) -> float:
        return 1.0 / self.scale**2


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
