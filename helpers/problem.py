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
import dataclasses
import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from helpers import budget
from helpers import images as im
from helpers import masks
from helpers.colour import keep_colour, luminance_only_inputs, match_colour
from helpers.controls import blend_grams, region_positions
from helpers.losses import loss_functions, total_loss
from helpers.model import FeatureExtractor
from helpers.settings import (COLOURS, CONTENT_LAYER, DEFAULT_WEIGHTS, INITS, NORMALIZATIONS, PRECISIONS, STYLE_FITS,
                              STYLE_LAYERS, Settings, weights_at_size)

CACHE_SIZE = 6  # problems kept by the shared cache (targets + compiled loss each)


# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) below the first with bfloat16 (AVX512_CORE_BF16)
ONEDNN_ISAS_WITHOUT_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}


def default_precision() -> str:
    """"bfloat16" where the hardware computes it natively (CPUs with AVX-512 BF16 or AMX,
    GPUs of compute capability 8.0 and newer), else "float32"."""
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability", (0, 0)) >= (8, 0):
            return "bfloat16"
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper() in ONEDNN_ISAS_WITHOUT_BF16:
        return "float32"  # oneDNN was capped below bfloat16 (e.g. to emulate a laptop CPU): it has none
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


def style_list(style) -> list:
    """One style picture or a sequence of them, as a list: a path, a PIL image or an RGB
    array is one picture; a list or tuple holds several."""
    return list(style) if isinstance(style, (list, tuple)) else [style]


def _clip(rgb) -> np.ndarray:
    """A float RGB image from the colour transforms (not clipped) as the 0..255 picture VGG16 gets."""
    return np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 255.0)


class StyleTransfer:
    """One content/style pair at one size: the targets, computed once, and the loss.

    content: a path, PIL image or RGB array. style: one such picture, or a list/tuple
        of several (blended, or one per mask region).
    size: longest side of the result in px (aspect ratio of the content kept), or an
        exact (height, width) as the original post did (512 x 512).
    style_fit: "cover" resizes the style image to the smallest size covering the
        result (aspect kept); "stretch" to exactly the result's size (the post).
    style_scale: extra factor on the style image's size: < 1 gives larger brush
        strokes relative to the result, > 1 finer ones.
    precision: "float32", "bfloat16" or "auto" (see `default_precision`).
    colour: one of helpers.settings.COLOURS. "match": each style picture's colours are
        mapped to the content's mean and covariance before its targets are taken
        (helpers.colour.match_colour). "luminance": content and styles become grey
        luminance pictures (helpers.colour.luminance_only_inputs) and `finish` puts the
        content's colour back; "swap": an ordinary run, `finish` swaps the colour channels.
    style_blend: without a mask, one weight >= 0 per style picture: the Gram targets are
        their weighted average (helpers.controls.blend_grams); None: equal.
    mask: None, or a label picture (path, PIL image or array; any size, resized by
        nearest neighbour) with one flat colour per region, as many regions as style
        pictures: region k (colours in increasing order, helpers.masks.load_labels) gets
        style k. Needs the "gatys" normalization.
    losses: None, or a mapping with any of "content_loss", "gram_matrix", "style_loss",
        "total_variation_loss" (a student's functions, e.g. `helpers.notebook.yours()`);
        missing entries use `helpers.losses`. The style targets use the given `gram_matrix`;
        a custom `style_loss` has the "gatys" normalization only (see `losses.total_loss`).
    """

    def __init__(self, content, style, size=512, content_layer: str | None = CONTENT_LAYER,
                 style_layers=STYLE_LAYERS, style_fit: str = "cover", style_scale: float = 1.0,
                 precision: str = "auto", colour: str = "style", style_blend=None, mask=None,
                 losses: Mapping | None = None):
        start = time.perf_counter()
        self.losses = loss_functions(losses)  # a ValueError for an unknown name, before any work
        if style_fit not in STYLE_FITS:
            raise ValueError(f"style_fit must be one of {STYLE_FITS}, not {style_fit!r}")
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS}, not {colour!r}")
        styles = style_list(style)
        if not styles:
            raise ValueError("no style picture given")
        if style_blend is not None and len(style_blend) != len(styles):
            raise ValueError(f"style_blend has {len(style_blend)} weights for {len(styles)} style pictures")
        self.precision = resolve_precision(precision)
        self.colour = colour
        content_rgb = im.load_image(content)
        if isinstance(size, int):
            self.shape = im.fit_size(content_rgb.shape[0], content_rgb.shape[1], size)
        else:
            self.shape = (int(size[0]), int(size[1]))
        im.check_size(*self.shape)  # also for a panorama whose short side shrinks below MIN_SIDE
        labels = None
        if mask is not None:  # checked before VGG16 is built: a wrong mask costs nothing
            labels = masks.load_labels(mask)
            if int(labels.max()) + 1 != len(styles):
                raise ValueError(f"the mask has {int(labels.max()) + 1} regions (flat colours) but {len(styles)} "
                                 f"style pictures were given: one style per region")
            labels = masks.load_labels(mask, shape=self.shape)
        style_rgbs = [im.load_image(s) for s in styles]
        style_shapes = []
        for rgb in style_rgbs:
            shape = self.shape if style_fit == "stretch" else im.cover_size(*rgb.shape[:2], self.shape)
            style_shapes.append(tuple(max(im.MIN_SIDE, round(side * style_scale)) for side in shape))
        for shape in (self.shape, *style_shapes):  # refuse early, before resizing or building VGG16
            budget.check_fits(*shape)
        self.photo_rgb = im.resize(content_rgb, self.shape)  # the content in its own colours
        style_rgbs = [im.resize(rgb, shape) for rgb, shape in zip(style_rgbs, style_shapes)]
        self.content_rgb = self.photo_rgb
        if colour == "match":
            style_rgbs = [_clip(match_colour(rgb, content=self.photo_rgb)) for rgb in style_rgbs]
        elif colour == "luminance":
            pairs = [luminance_only_inputs(self.photo_rgb, style=rgb) for rgb in style_rgbs]
            self.content_rgb = _clip(pairs[0][0])
            style_rgbs = [_clip(styled) for _, styled in pairs]
        self.style_rgbs = style_rgbs
        self.style_rgb = style_rgbs[0]

        self.content_layer = content_layer
        self.style_layers = list(style_layers)
        self.extractor = FeatureExtractor(([content_layer] if content_layer else []) + self.style_layers,
                                          self.precision)
        self.content = tf.constant(im.preprocess(self.content_rgb)[None])
        self.content_target = None
        if content_layer:
            self.content_target = (content_layer, self.extractor(self.content)[content_layer])
        # The Gram matrix sums over positions: rescale it to the number of positions the
        # result has at that layer, so a style image of another size gives the same target.
        result_positions = {layer: self._positions(layer) for layer in self.style_layers}
        per_style = []
        for rgb in style_rgbs:
            features = self.extractor(tf.constant(im.preprocess(rgb)[None]))
            per_style.append({layer: self.losses["gram_matrix"](features[layer])
                              * (result_positions[layer] / float(features[layer].shape[1] * features[layer].shape[2]))
                              for layer in self.style_layers})
        self.regions = None
        if labels is None:
            blend = style_blend if style_blend is not None else [1.0] * len(styles)
            self.style_targets = {layer: per_style[0][layer] if len(per_style) == 1
                                  else blend_grams([grams[layer] for grams in per_style], blend)
                                  for layer in self.style_layers}
        else:
            # {layer: (region masks (K, h, w) at this layer's size, per-position targets A_k / M)}
            layer_masks = masks.masks_for_layers(masks.region_masks(labels, count=len(styles)), layers=self.style_layers)
            self.regions = {layer: (tf.constant(layer_masks[layer]),
                                    [grams[layer] / result_positions[layer] for grams in per_style])
                            for layer in self.style_layers}
            self.style_targets = {layer: per_style[0][layer] for layer in self.style_layers}  # for its shape only
        self._zero_loss = {layer: self._zero_feature_loss(layer) for layer in self.style_layers}
        self._compiled = {}
        self.setup_seconds = time.perf_counter() - start

    def _zero_feature_loss(self, layer: str) -> float:
        """The "gatys" style loss of `layer` for an image whose features are all zero: the
        scale of that layer's loss. ||A||^2 / (4 N^2 M^2) (A the target, N channels, M the
        result's positions there); with a mask, sum_k (M_k / M) ||A_k / M||^2 / (4 N^2)."""
        n, m = float(self.style_targets[layer].shape[0]), self._positions(layer)

        def squared(x):
            return float(tf.reduce_sum(tf.square(tf.cast(x, tf.float64))))

        if self.regions is None:
            return squared(self.style_targets[layer]) / (4.0 * n**2 * m**2)
        region_masks, targets = self.regions[layer]
        return sum(float(region_positions(mk)) / m * squared(a) / (4.0 * n**2)
                   for mk, a in zip(tf.unstack(region_masks), targets))

    def finish(self, rgb) -> np.ndarray:
        """The picture a user gets from an optimized uint8 RGB image (H, W, 3): for colour
        "luminance" and "swap", its luminance with the content's colour channels
        (helpers.colour.keep_colour), rounded to uint8; otherwise the image itself."""
        rgb = np.asarray(rgb)
        if self.colour not in ("luminance", "swap"):
            return rgb
        photo = self.photo_rgb if rgb.shape[:2] == tuple(self.shape) else im.resize(self.photo_rgb, rgb.shape[:2])
        return np.clip(np.round(keep_colour(rgb, content=photo)), 0, 255).astype(np.uint8)

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
                        style_layers=tuple(self.style_layers), precision=self.precision,
                        **{"colour": self.colour, **fields})

    def layer_weights(self, settings: Settings) -> dict[str, float]:
        """The factor on each style layer's loss (times the style weight): rule (b).

        "equal": the settings' shares as they are. "auto": each share divided by
        `zero_feature_loss`, so each layer's weighted loss is its relative Gram error
        ||G - A||^2 / ||A||^2 times its share, and every layer counts.
        """
        shares = settings.layer_weights
        if settings.balance == "equal":
            return {layer: float(shares[layer]) for layer in self.style_layers}
        return {layer: float(shares[layer]) / max(self._zero_loss[layer], 1e-30) for layer in self.style_layers}

    def evaluator(self, settings: Settings):
        """A compiled function image (1, H, W, 3) -> (total loss, gradient, parts) with these weights.

        The weights used are `settings.weights` at this problem's size
        (`helpers.settings.weights_at_size`, rule (a)) and the style layers' factors of
        `layer_weights` (rule (b)). Gradients are taken with respect to the image only.
        Compiled once per normalization and set of style layers of nonzero weight (a layer
        of weight 0 is not computed); the weights are passed as tensors, so new weights reuse it.
        """
        if (settings.content_layer, tuple(settings.style_layers)) != (self.content_layer, tuple(self.style_layers)):
            raise ValueError(f"these settings are for layers {settings.content_layer} / {settings.style_layers}, "
                             f"this problem has {self.content_layer} / {tuple(self.style_layers)}")
        if settings.colour != self.colour:
            raise ValueError(f"these settings are for colour {settings.colour!r}, this problem was built for "
                             f"{self.colour!r}")
        normalization = settings.normalization
        if self.regions is not None and normalization != "gatys":
            raise ValueError('a mask (a style per region) needs normalization "gatys"')
        if normalization != "gatys" and self.losses["style_loss"] is not loss_functions()["style_loss"]:
            raise ValueError(f'this problem has a custom style_loss ("gatys" normalization only), not {normalization!r}')
        factors = self.layer_weights(settings)
        # A style layer of weight 0 adds exactly 0: it is not computed, and VGG16 runs only
        # as deep as the deepest layer still needed (block4 and block5 are 39 % of its work).
        active = tuple(layer for layer in self.style_layers if factors[layer] > 0)
        key = (normalization, active)
        if key not in self._compiled:
            extractor = self.extractor
            if active != tuple(self.style_layers):
                extractor = FeatureExtractor(([self.content_layer] if self.content_layer else []) + list(active),
                                             self.precision)
            targets = {layer: self.style_targets[layer] for layer in active}
            skipped = [layer for layer in self.style_layers if layer not in active]

            @tf.function(reduce_retracing=True)
            def evaluate(image, weights, layer_w):
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    total, parts = total_loss(image, extractor(image), self.content_target, targets,
                                              weights, normalization,
                                              layer_weights=dict(zip(active, tf.unstack(layer_w))),
                                              regions=self.regions, functions=self.losses)
                if skipped:  # every layer keeps its place in the parts (and in the history), at 0
                    zero = tf.zeros_like(total)
                    parts = {**({"content": parts["content"]} if "content" in parts else {}),
                             **{f"style/{layer}": parts.get(f"style/{layer}", zero) for layer in self.style_layers},
                             "tv": parts["tv"]}
                return total, tape.gradient(total, image), parts

            self._compiled[key] = evaluate
        evaluate = self._compiled[key]
        used = weights_at_size(settings.weights, shape=self.shape, normalization=normalization)
        weights = {term: tf.constant(float(value)) for term, value in used.items()}
        layer_w = tf.constant([factors[layer] for layer in active], shape=(len(active),))
        return lambda image: evaluate(image, weights, layer_w)

    def loss_function(self, weights: Mapping, normalization: str = "gatys", layer_balance: str | None = None):
        """`evaluator` for a weights dict {"content", "style", "tv"} (the default layer balance of
        the normalization; the settings' defaults for the terms not given)."""
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
        return self.evaluator(self.settings({**DEFAULT_WEIGHTS[normalization], **weights}, normalization,
                                            layer_balance=layer_balance))

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
            callback=None, progress: bool = True, learning_rate: float = 10.0, layer_balance: str | None = None,
            strength: float = 0.5):
        """Optimize the pixels for `iterations` loss evaluations; returns a StyleResult.

        weights: a (partial) dict {"content", "style", "tv"}; init: one of INITS or an
        RGB image; layer_balance, strength: as in `helpers.settings.Settings` (weights
        chosen for equal layer shares, e.g. a style weight of 3e4, need layer_balance="equal").
        See `helpers.optimizers.run`, which does the work, for the rest.
        """
        from helpers import optimizers

        image = None if isinstance(init, str) else init
        settings = self.settings(weights, normalization, iterations=iterations, method=method,
                                 init=init if image is None else "content", seed=seed, learning_rate=learning_rate,
                                 layer_balance=layer_balance, strength=strength)
        result = optimizers.run(self, settings, start=image, frames_every=frames_every, callback=callback,
                                progress=progress)
        return dataclasses.replace(result, image=self.finish(result.image),
                                   frames=[(n, self.finish(f)) for n, f in result.frames])


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
    def key(content, style, *, size, settings: Settings, mask=None) -> tuple:
        """The cache key: the images (content, styles, mask), the size, the layers, the precision,
        the style's fit and scale, the colour mode and the style blend."""
        size = size if isinstance(size, int) else (int(size[0]), int(size[1]))
        styles = tuple(_image_key(s) for s in style_list(style))
        return (_image_key(content), styles, None if mask is None else _image_key(mask), size, settings.content_layer,
                tuple(settings.style_layers), resolve_precision(settings.precision), settings.style_fit,
                settings.style_scale, settings.colour, settings.style_blend)

    def __contains__(self, key) -> bool:
        return key in self.problems

    def __len__(self) -> int:
        return len(self.problems)

    def get(self, content, style, *, size, settings: Settings, mask=None) -> StyleTransfer:
        """The problem for these images, size (longest side or (height, width)), settings and
        mask, built at most once."""
        key = self.key(content, style, size=size, settings=settings, mask=mask)
        if key in self.problems:
            self.problems.move_to_end(key)
            return self.problems[key]
        problem = StyleTransfer(content, style, size, content_layer=settings.content_layer,
                                style_layers=settings.style_layers, style_fit=settings.style_fit,
                                style_scale=settings.style_scale, precision=settings.precision,
                                colour=settings.colour, style_blend=settings.style_blend, mask=mask)
        self.builds += 1
        self.problems[key] = problem
        while len(self.problems) > self.maxsize:
            self.problems.popitem(last=False)
        return problem

    def clear(self) -> None:
        self.problems.clear()


CACHE = ProblemCache()  # the one shared cache (empty until used)


def get_problem(content, style, *, size, settings: Settings, mask=None) -> StyleTransfer:
    """`CACHE.get`: the problem for these images, size, settings and mask, built at most once."""
    return CACHE.get(content, style, size=size, settings=settings, mask=mask)
