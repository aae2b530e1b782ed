"""Looking inside networks, without figures: the most active channels, filter pictures by
gradient ascent, a model's layer table; and two notebook utilities (a Markdown table, a
Keras progress bar). The figures that show these are in `helpers.plots`.

Feature maps are arrays of shape (h, w, c) or (1, h, w, c): the output of one layer,
c channels on an h x w grid, values >= 0 after the ReLU. Images are uint8 RGB
(H, W, 3) unless a docstring says otherwise; "preprocessed" images are VGG16's
input (see `helpers.images.preprocess`).
"""
from __future__ import annotations

import numpy as np

# --- feature maps ----------------------------------------------------------------------


def _hwc(features) -> np.ndarray:
    a = np.asarray(features, dtype=np.float32)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"expected one feature map (1, h, w, c), got a batch of shape {a.shape}")
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"expected a feature map (h, w, c) or (1, h, w, c), got shape {a.shape}")
    return a


def top_channels(features, k: int = 8) -> np.ndarray:
    """Indices of the `k` channels with the largest mean activation, strongest first.

    Many channels of a deep layer are zero almost everywhere for a given image;
    these are the ones the image actually excites.
    """
    means = _hwc(features).mean(axis=(0, 1))
    return np.argsort(-means, kind="stable")[:k]


# --- what one filter responds to: gradient ascent on the input ----------------------------

_STEPS = {}  # one compiled step per layer (VGG16 is built once per process anyway)

def _ascent_step(layer: str):
    """A compiled step: (image, channel, step_size, decay, shift) -> (new image, mean activation before).

    The objective is the channel's mean *before* its ReLU: after the ReLU a channel
    that is silent everywhere (common for deep layers and a grey start) has zero
    gradient and would never move. Its mean after the ReLU is what gets reported.
    """
    import tensorflow as tf

    from helpers import images as im
    from helpers.model import FeatureExtractor, vgg16

    if layer not in _STEPS:
        from helpers.weights import CONV_LAYERS

        if layer not in CONV_LAYERS:
            raise ValueError(f"layer must be one of VGG16's conv layers {CONV_LAYERS}, not {layer!r}")
        base = vgg16()
        names = [l.name for l in base.layers]
        conv = base.get_layer(layer)
        before = names[names.index(layer) - 1]  # the layer feeding this convolution
        extractor = FeatureExtractor([before]) if before.startswith("block") else None
        low = tf.constant(-im.IMAGENET_BGR_MEANS)
        high = tf.constant(255.0 - im.IMAGENET_BGR_MEANS)

        @tf.function(reduce_retracing=True)
        def step(image, channel, step_size, decay, shift):
            image = tf.roll(image, shift, axis=[1, 2])  # jitter: no pixel-grid pattern can settle in
            with tf.GradientTape() as tape:
                tape.watch(image)
                x = extractor(image)[before] if extractor else image
                pre = tf.nn.conv2d(x, conv.kernel[..., channel:channel + 1], 1, "SAME") + conv.bias[channel]
                objective = tf.reduce_mean(pre)
            grad = tape.gradient(objective, image)
            grad /= tf.math.reduce_std(grad) + 1e-8  # the same step size whatever the layer
            image = tf.clip_by_value(decay * image + step_size * grad, low, high)
            return tf.roll(image, -shift, axis=[1, 2]), tf.reduce_mean(tf.nn.relu(pre))

        _STEPS[layer] = step
    return _STEPS[layer]


def visualize_filter(layer: str, channel: int, size: int = 128, steps: int = 40, step_size: float = 1.5,
                     decay: float = 0.99, jitter: int = 4, seed: int = 0, progress: bool = False):
    """The picture that excites one channel of a VGG16 conv layer most, by gradient ascent from noise.

    Starts from grey plus faint noise (seeded) and repeats `steps` times:
    image <- decay * image + step_size * g / std(g), with g = d mean(channel) / d image,
    keeping the pixels valid (0..255) and shifting the image by up to `jitter` px at
    random before each step. step_size is in pixel-value units (0..255 scale); the
    decay pulls colours back towards the ImageNet mean, so only what helps survives.

    Returns (image, activations): uint8 RGB (size, size, 3) and the channel's mean
    activation (after the ReLU, as the layer outputs it) before each step: `steps`
    floats that rise as the picture takes shape.
    """
    import tensorflow as tf

    from helpers import images as im

    step = _ascent_step(layer)
    rng = np.random.default_rng(seed)
    rgb = 128.0 + rng.uniform(-10, 10, (size, size, 3))
    image = tf.constant(im.preprocess(rgb)[None])
    args = [tf.constant(int(channel)), tf.constant(float(step_size)), tf.constant(float(decay))]
    activations = []
    loop = range(steps)
    if progress:
        from tqdm.auto import tqdm

        loop = tqdm(loop, desc=f"{layer}, channel {channel}", leave=False)
    for _ in loop:
        shift = tf.constant(rng.integers(-jitter, jitter + 1, 2), dtype=tf.int32)
        image, activation = step(image, *args, shift)
        activations.append(float(activation))
    return im.deprocess(image), activations


# --- tables and progress --------------------------------------------------------------


def layer_table(model, input_shape, names: dict | None = None) -> list[dict]:
    """One row per layer of a Keras model: name, paper name, output shape, parameter count.

    input_shape: (H, W, C) of one image, e.g. (224, 224, 3); output shapes are for a
    batch of one, without the batch axis. names: {layer name: other name}.
    """
    import keras

    x = keras.Input(input_shape)
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        x = layer(x)
        rows.append({"layer": layer.name, "paper": (names or {}).get(layer.name, ""),
                     "output": tuple(int(d) for d in x.shape[1:]), "parameters": int(layer.count_params())})
    return rows


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A Markdown table of dicts (show it with IPython.display.Markdown). Integers get thousands separators."""
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return f"{v:,}"
        if isinstance(v, tuple):
            return " × ".join(str(d) for d in v)
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def epoch_bar(epochs: int, description: str = "training"):
    """A Keras callback showing one tqdm progress bar over the epochs, with the latest loss and accuracy.

    model.fit(..., verbose=0, callbacks=[epoch_bar(EPOCHS)])
    """
    import keras
    from tqdm.auto import tqdm

    class _EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=description, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            shown = {k: f"{v:.3f}" for k, v in (logs or {}).items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _EpochBar()
