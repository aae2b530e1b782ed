"""Looking inside networks: feature-map grids, filter pictures by gradient ascent, small plots.

Feature maps are arrays of shape (h, w, c) or (1, h, w, c): the output of one layer,
c channels on an h x w grid, values >= 0 after the ReLU. Images are uint8 RGB
(H, W, 3) unless a docstring says otherwise; "preprocessed" images are VGG16's
input (see `helpers.images.preprocess`).
"""
from __future__ import annotations

import math

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


def show_feature_maps(maps: dict, image=None, k: int = 6, size: float = 1.9, names: dict | None = None):
    """One row per layer: the input image, then the `k` most active channels of that layer.

    maps: {layer name: feature map (1, h, w, c)}, in network order.
    image: uint8 RGB shown at the start of every row (optional).
    names: {layer name: extra label}, e.g. helpers.model.PAPER_NAMES.
    Each channel is scaled by its own maximum: dark = 0, bright = that channel's peak.
    """
    import matplotlib.pyplot as plt

    extra = 1 if image is not None else 0
    fig, axes = plt.subplots(len(maps), k + extra, figsize=(size * (k + extra), size * len(maps)), squeeze=False)
    for row, (layer, f) in zip(axes, maps.items()):
        a = _hwc(f)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        if image is not None:
            row[0].imshow(image)
        for ax, ch in zip(row[extra:], top_channels(a, k)):
            ax.imshow(a[..., ch], cmap="magma", vmin=0, vmax=max(float(a[..., ch].max()), 1e-6))
            ax.set_title(f"channel {ch}", fontsize=9)
        label = f"{layer}" + (f"\n= {names[layer]}" if names and layer in names else "")
        row[0].set_ylabel(f"{label}\n{a.shape[0]}×{a.shape[1]}×{a.shape[2]}", fontsize=9)
    fig.tight_layout()
    plt.show()


def show_kernels(kernel, ncols: int = 16, size: float = 0.55, bgr: bool = True):
    """The 3x3 colour filters of a first layer as tiny pictures: kernel (3, 3, 3, n), HWIO.

    Each filter is scaled so that 0 is mid-grey and its largest |weight| is black or
    white in some channel. VGG16 reads BGR images, so its first kernel's input axis is
    BGR; bgr=True flips it to RGB for display.
    """
    import matplotlib.pyplot as plt

    k = np.asarray(kernel, dtype=np.float32)
    if bgr:
        k = k[:, :, ::-1, :]
    n = k.shape[-1]
    rows = math.ceil(n / ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=(size * ncols, size * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        f = k[..., i]
        ax.imshow(0.5 + 0.5 * f / max(float(np.abs(f).max()), 1e-12), interpolation="nearest")
    fig.tight_layout(pad=0.2)
    plt.show()


def show_rows(rows: dict, size: float = 2.0, autocontrast: bool = False):
    """A grid of pictures with one labelled row per key: {row label: [(title, uint8 RGB image), ...]}.

    autocontrast: stretch each picture's colours to the full 0..255 range for display
    (ignoring the darkest and brightest 0.5 % of pixels).
    """
    import matplotlib.pyplot as plt
    from PIL import Image, ImageOps

    ncols = max(len(r) for r in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols, size * len(rows)), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for axrow, (label, items) in zip(axes, rows.items()):
        axrow[0].set_ylabel(label, fontsize=9)
        for ax, (title, img) in zip(axrow, items):
            a = np.asarray(img, dtype=np.uint8)
            if autocontrast:
                a = np.asarray(ImageOps.autocontrast(Image.fromarray(a), cutoff=0.5))
            ax.imshow(a)
            ax.set_title(title, fontsize=9)
    fig.tight_layout()
    plt.show()


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


# --- small plots and tables --------------------------------------------------------------


def plot_curves(curves: dict, xlabel: str = "epoch", ylabel: str = "loss", title: str | None = None,
                log: bool = False, hline: tuple[float, str] | None = None, size=(6.0, 3.5)):
    """Line plot of named curves, x = 1, 2, 3, ...: {label: sequence of values}.

    hline: (value, label) draws a dashed reference line (e.g. the loss of guessing).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) <= 30 else None, ms=3, label=label)
    if hline is not None:
        ax.axhline(hline[0], color="grey", ls="--", lw=1, label=hline[1])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    plt.show()


def show_predictions(images, labels, probabilities, class_names, ncols: int = 8, size: float = 1.6):
    """Pictures with the predicted class and its probability; green if right, red (with the truth) if wrong.

    images: (n, h, w, 3) floats 0..1 or uint8. labels: (n,) true class indices.
    probabilities: (n, classes), rows summing to 1.
    """
    import matplotlib.pyplot as plt

    images, probabilities = np.asarray(images), np.asarray(probabilities)
    n = len(images)
    rows = math.ceil(n / ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=(size * ncols, size * rows * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, label, p in zip(axes.flat, images, labels, probabilities):
        guess = int(np.argmax(p))
        right = guess == int(label)
        ax.imshow(img)
        ax.set_title(f"{class_names[guess]} {p[guess]:.0%}" + ("" if right else f"\n(is a {class_names[int(label)]})"),
                     fontsize=9, color="tab:green" if right else "tab:red")
    fig.tight_layout()
    plt.show()


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
