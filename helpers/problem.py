"""The problem at one size: the images resized, the targets computed once, the compiled loss.

    problem = get_problem(content, style, size=256, settings=Settings())   # built once, then cached
    evaluate = problem.evaluator(settings)     # image (1, H, W, 3) -> (loss, gradient, parts)
    problem.delivered_loss(result.image, settings=settings)   # the loss of the saved 8-bit picture

Building a problem costs VGG16's style targets and, at its first evaluation, tracing the
loss: seconds. `get_problem` keeps the last few in one shared cache, so the command, the
pipeline (`helpers.optimize.stylize`) and the explorer never build the same one twice.
"""
from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from helpers import budget
from helpers import images as im
from helpers.losses import loss_functions, total_loss
from helpers.model import FeatureExtractor
from helpers.settings import (CONTENT_LAYER, DEFAULT_WEIGHTS, INITS, NORMALIZATIONS, PRECISIONS, STYLE_FITS,
                              STYLE_LAYERS, Settings)

CACHE_SIZE = 6  # problems kept by the shared cache (targets + compiled loss each)


def default_precision() -> str:
    """"bfloat16" where the hardware computes it natively (CPUs with AVX-512 BF16 or AMX,
    GPUs of compute capability 8.0 and newer), else "float32"."""
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability", (0, 0)) >= (8, 0):
            return "bfloat16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: stay safe
        return "float32"
    return "bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


def resolve_precision(precision: str) -> str:
    """"auto" -> `default_precision()`; "float32" and "bfloat16" stay; anything else is a ValueError."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    return default_precision() if precision == "auto" else precision


class StyleTransfer:
    """One content/style pair at one size: the targets, computed once, and the loss.

    content, style: paths, PIL images or RGB arrays.
    size: longest side of the result in px (aspect ratio of the content kept), or an
        exact (height, width) as the original post did (512 x 512).
    style_fit: "cover" resizes the style image to the smallest size covering the
        result (aspect kept); "stretch" to exactly the result's size (the post).
    style_scale: extra factor on the style image's size: < 1 gives larger brush
        strokes relative to the result, > 1 finer ones.
    precision: "float32", "bfloat16" or "auto" (see `default_precision`).
    losses: None, or a mapping with any of "content_loss", "gram_matrix", "style_loss",
        "total_variation_loss" (a student's functions, e.g. `helpers.notebook.yours()`);
        missing entries use `helpers.losses`. The style targets use the given `gram_matrix`;
        a custom `style_loss` has the "gatys" normalization only (see `losses.total_loss`).
    """

    def __init__(self, content, style, size=512, content_layer: str | None = CONTENT_LAYER,
                 style_layers=STYLE_LAYERS, style_fit: str = "cover", style_scale: float = 1.0,
                 precision: str = "auto", losses: Mapping | None = None):
        start = time.perf_counter()
        self.losses = loss_functions(losses)  # a ValueError for an unknown name, before any work
        if style_fit not in STYLE_FITS:
            raise ValueError(f"style_fit must be one of {STYLE_FITS}, not {style_fit!r}")
        self.precision = resolve_precision(precision)
        content_rgb = im.load_image(content)
        if isinstance(size, int):
            self.shape = im.fit_size(content_rgb.shape[0], content_rgb.shape[1], size)
        else:
            self.shape = (int(size[0]), int(size[1]))
        im.check_size(*self.shape)  # also for a panorama whose short side shrinks below MIN_SIDE
        style_rgb = im.load_image(style)
        style_shape = self.shape if style_fit == "stretch" else im.cover_size(*style_rgb.shape[:2], self.shape)
        style_shape = tuple(max(im.MIN_SIDE, round(s * style_scale)) for s in style_shape)
        for shape in (self.shape, style_shape):  # refuse early, before resizing or building VGG16
            budget.check_fits(*shape)
        self.content_rgb = im.resize(content_rgb, self.shape)
        self.style_rgb = im.resize(style_rgb, style_shape)

        self.content_layer = content_layer
        self.style_layers = list(style_layers)
        self.extractor = FeatureExtractor(([content_layer] if content_layer else []) + self.style_layers,
                                          self.precision)
        self.content = tf.constant(im.preprocess(self.content_rgb)[None])
        self.content_target = None
        if content_layer:
            self.content_target = (content_layer, self.extractor(self.content)[content_layer])
        style_features = self.extractor(tf.constant(im.preprocess(self.style_rgb)[None]))
        # The Gram matrix sums over positions: rescale it to the number of positions the
        # result has at that layer, so a style image of another size gives the same target.
        result_positions = {layer: self._positions(layer) for layer in self.style_layers}
        self.style_targets = {
            layer: self.losses["gram_matrix"](f) * (result_positions[layer] / float(f.shape[1] * f.shape[2]))
            for layer, f in style_features.items() if layer in self.style_layers
        }
        self._compiled = {}
        self.setup_seconds = time.perf_counter() - start

    def _positions(self, layer: str) -> float:
        """Number of spatial positions of `layer` for the result image (VGG's pools floor-divide)."""
        blocks = int(layer[5]) - 1  # block3_conv1 sits after 2 poolings
        h, w = self.shape
        for _ in range(blocks):
            h, w = h // 2, w // 2
        return float(h * w)

    def initial_image(self, init="noise", seed: int = 0) -> np.ndarray:
        """Start image, preprocessed (1, H, W, 3) float32: "noise", "content", "style" or an RGB array."""
        if isinstance(init, str):
            if init == "noise":  # the post: uniform(0, 255) - 128
                rng = np.random.default_rng(seed)
                return (rng.uniform(0, 255, (1, *self.shape, 3)) - 128.0).astype(np.float32)
            if init == "content":
                return im.preprocess(self.content_rgb)[None]
            if init == "style":
                return im.preprocess(im.resize(self.style_rgb, self.shape))[None]
            raise ValueError(f"init must be one of {INITS} or an image, not {init!r}")
        rgb = im.load_image(init)
        if rgb.shape[:2] != self.shape:
            rgb = im.resize(rgb, self.shape)
        return im.preprocess(rgb)[None]

    def settings(self, weights: Mapping | None = None, normalization: str = "gatys", **fields) -> Settings:
        """A Settings for this problem's layers and precision, from a (partial) weights dict
        such as {"style": 1e5} (missing terms: DEFAULT_WEIGHTS[normalization])."""
        weights = dict(weights or {})
        return Settings(content_weight=weights.get("content"), style_weight=weights.get("style"),
                        tv_weight=weights.get("tv"), normalization=normalization, content_layer=self.content_layer,
                        style_layers=tuple(self.style_layers), precision=self.precision, **fields)

    def evaluator(self, settings: Settings):
        """A compiled function image (1, H, W, 3) -> (total loss, gradient, parts) with these weights.

        Gradients are taken with respect to the image only. Compiled once per
        normalization; the weights are passed as tensors, so new weights reuse it.
        """
        if (settings.content_layer, tuple(settings.style_layers)) != (self.content_layer, tuple(self.style_layers)):
            raise ValueError(f"these settings are for layers {settings.content_layer} / {settings.style_layers}, "
                             f"this problem has {self.content_layer} / {tuple(self.style_layers)}")
        normalization = settings.normalization
        if normalization != "gatys" and self.losses["style_loss"] is not loss_functions()["style_loss"]:
            raise ValueError(f'this problem has a custom style_loss ("gatys" normalization only), not {normalization!r}')
        if normalization not in self._compiled:

            @tf.function(reduce_retracing=True)
            def evaluate(image, weights, layer_w):
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    total, parts = total_loss(image, self.extractor(image), self.content_target, self.style_targets,
                                              weights, normalization,
                                              layer_weights=dict(zip(self.style_layers, tf.unstack(layer_w))),
                                              functions=self.losses)
                return total, tape.gradient(total, image), parts

            self._compiled[normalization] = evaluate
        evaluate = self._compiled[normalization]
        weights = {term: tf.constant(float(value)) for term, value in settings.weights.items()}
        layer_w = tf.constant([float(settings.layer_weights[l]) for l in self.style_layers])
        return lambda image: evaluate(image, weights, layer_w)

    def loss_function(self, weights: Mapping, normalization: str = "gatys"):
        """`evaluator` for a weights dict {"content", "style", "tv"} (the style layers share equally)."""
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
        return self.evaluator(self.settings({**DEFAULT_WEIGHTS[normalization], **weights}, normalization))

    def time_evaluation(self, weights: Mapping | None = None, normalization: str = "gatys", repeats: int = 2) -> float:
        """Measured seconds of one loss evaluation at this size (after compiling): the basis of time estimates."""
        evaluate = self.evaluator(self.settings(weights, normalization))
        x = tf.constant(self.initial_image("content"))
        evaluate(x)  # compile
        start = time.perf_counter()
        for _ in range(repeats):
            float(evaluate(x)[0])
        return (time.perf_counter() - start) / repeats

    def delivered_loss(self, image, *, settings: Settings) -> float:
        """The loss of the picture a user gets, in float: `image` as an 8-bit RGB picture.

        image: uint8 RGB (H, W, 3), taken as it is, or a preprocessed float image
            (1, H, W, 3) or (H, W, 3), which is deprocessed (clipped, rounded to 8 bits)
            and preprocessed again, exactly what saving and reloading it does.
        """
        image = np.asarray(image)
        rgb = image if image.dtype == np.uint8 else im.deprocess(image)
        if rgb.shape[:2] != tuple(self.shape):
            raise ValueError(f"image is {rgb.shape[0]}x{rgb.shape[1]} px, this problem {self.shape[0]}x{self.shape[1]}")
        return float(self.evaluator(settings)(tf.constant(im.preprocess(rgb)[None]))[0])

    def run(self, iterations: int = 100, method: str = "lbfgs", weights: Mapping | None = None,
            normalization: str = "gatys", init="noise", seed: int = 0, frames_every: int | None = None,
            callback=None, progress: bool = True, learning_rate: float = 10.0):
        """Optimize the pixels for `iterations` loss evaluations; returns a StyleResult.

        weights: a (partial) dict {"content", "style", "tv"}; init: one of INITS or an
        RGB image. See `helpers.optimizers.run`, which does the work, for the rest.
        """
        from helpers import optimizers

        image = None if isinstance(init, str) else init
        settings = self.settings(weights, normalization, iterations=iterations, method=method,
                                 init=init if image is None else "content", seed=seed, learning_rate=learning_rate)
        return optimizers.run(self, settings, start=image, frames_every=frames_every, callback=callback,
                              progress=progress)


def _image_key(image) -> tuple:
    """What identifies an image for the cache: a file's path and modification time, or an array's bytes."""
    if isinstance(image, (str, Path)):
        path = Path(image).resolve()
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None  # loading will raise the clear error
        return ("file", str(path), stamp)
    array = np.ascontiguousarray(np.asarray(image))
    return ("array", array.shape, str(array.dtype), hashlib.sha1(array.tobytes()).hexdigest())


class ProblemCache:
    """The last `maxsize` problems built, most recently used last; `builds` counts constructions."""

    def __init__(self, maxsize: int = CACHE_SIZE):
        self.maxsize = maxsize
        self.problems: collections.OrderedDict = collections.OrderedDict()
        self.builds = 0

    @staticmethod
    def key(content, style, *, size, settings: Settings) -> tuple:
        """The cache key: both images, the size, the layers, the precision and the style's fit and scale."""
        size = size if isinstance(size, int) else (int(size[0]), int(size[1]))
        return (_image_key(content), _image_key(style), size, settings.content_layer, tuple(settings.style_layers),
                resolve_precision(settings.precision), settings.style_fit, settings.style_scale)

    def __contains__(self, key) -> bool:
        return key in self.problems

    def __len__(self) -> int:
        return len(self.problems)

    def get(self, content, style, *, size, settings: Settings) -> StyleTransfer:
        """The problem for these images, size (longest side or (height, width)) and settings, built at most once."""
        key = self.key(content, style, size=size, settings=settings)
        if key in self.problems:
            self.problems.move_to_end(key)
            return self.problems[key]
        problem = StyleTransfer(content, style, size, content_layer=settings.content_layer,
                                style_layers=settings.style_layers, style_fit=settings.style_fit,
                                style_scale=settings.style_scale, precision=settings.precision)
        self.builds += 1
        self.problems[key] = problem
        while len(self.problems) > self.maxsize:
            self.problems.popitem(last=False)
        return problem

    def clear(self) -> None:
        self.problems.clear()


CACHE = ProblemCache()  # the one shared cache (empty until used)


def get_problem(content, style, *, size, settings: Settings) -> StyleTransfer:
    """`CACHE.get`: the problem for these images, size and settings, built at most once."""
    return CACHE.get(content, style, size=size, settings=settings)
