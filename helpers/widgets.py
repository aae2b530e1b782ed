"""The interactive explorer of notebook 07: style strength, colour, weights, layers and images
(a second style blended in by a slider) on sliders, a Run button, a live preview, a gallery
of every run and a full-size render.

    from helpers.widgets import explorer
    ui = explorer()              # builds the controls and displays them

Everything a button does is a method of `Explorer`, so tests drive it without a browser:

    ui = Explorer(size=64, iterations=5)
    ui.strength.value = 0.8
    ui.second_style.value = ui.style_choice.options[0][1]   # a second painting, 30 % of the style
    ui.blend.value = 0.3
    result = ui.run(block=True)  # the StyleResult; ui.preview and ui.gallery are updated

Runs happen in a background thread, so the kernel stays responsive and Stop works. One
problem per (content, style(s), blend, size, content layer, style layers, colour, style scale) is cached: a
second run with other weights starts at once, reusing the style targets and the
compiled loss function (the weights reach it as tensors, so nothing is retraced); another
blend is another problem (the blended targets are computed again). The
cache is `helpers.problem.CACHE`, shared with `helpers.optimize.stylize`.

Works with ipywidgets 7.7 (Colab) and 8, in Jupyter and as a Voilà page.
"""
from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import math
import threading
import time
import traceback
from pathlib import Path

import ipywidgets as w
import numpy as np
from PIL import Image

from helpers import images as im
from helpers.files import unique_name
from helpers.model import PAPER_NAMES
from helpers.notebook import CONTENT_IMAGES, REPO, STYLE_IMAGES, fast
from helpers.problem import CACHE, ProblemCache, StyleTransfer
from helpers.optimize import run_stages
from helpers.settings import (COLOURS, CONTENT_LAYER, DEFAULT_COARSE_TO_FINE, DEFAULT_WEIGHTS, INITS, STYLE_LAYERS,
                              Settings, plan_stages)
from helpers.weights import CONV_LAYERS

NORMALIZATION = "gatys"
DEFAULT_CONTENT = "tuebingen.jpg"
DEFAULT_STYLE = "starry_night.jpg"
DEFAULT_SIZE = 192          # preview: longest side in px
SIZE_RANGE = (128, 384)
DEFAULT_ITERATIONS = 15     # loss evaluations per preview run: under 10 s at 192 px on 2 AVX2 laptop cores (issue 11)
FULL_SIZE = 512             # "Render full size": longest side in px
FULL_ITERATIONS = 15        # at full size, after the command's coarse levels (DEFAULT_COARSE_TO_FINE)
OUTPUT_DIR = REPO / "outputs"
DECADES = 3                 # each weight slider spans its default x 10^-3 ... x 10^3
REFRESH_EVERY = 2           # evaluations between two refreshes of the live preview
GALLERY_SIZE = 12           # runs kept in the gallery, newest first
MAX_UPLOAD_SIDE = 2048      # larger uploads are shrunk on arrival (the runs use far less)
NO_CONTENT = "none"         # content-layer choice for texture synthesis (no content loss)
NO_STYLE = "none"           # second-style choice: one style only
DEFAULT_BLEND = 0.5         # the second style's share when one is chosen
PREVIEW_WIDTH = "320px"
COLOUR_NAMES = {  # the colour dropdown's words for helpers.settings.COLOURS
    "style": "the painting's",
    "luminance": "the photo's (style on luminance only)",
    "match": "the photo's, matched into the painting first",
    "swap": "the photo's, swapped in afterwards",
}
THUMB_PX = 150


# --- small pure functions (tested directly) ------------------------------------------


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """[(file name, bytes)] from a FileUpload's `value`, in either ipywidgets format.

    ipywidgets 7.x: {name: {"metadata": {...}, "content": bytes}};
    ipywidgets 8.x: a tuple of {"name", "type", "size", "content" (memoryview), "last_modified"}.
    """
    if not value:
        return []
    if isinstance(value, dict):
        return [(str(name), bytes(item["content"])) for name, item in value.items()]
    return [(str(item["name"]), bytes(item["content"])) for item in value]


def decode_upload(name: str, data: bytes) -> np.ndarray:
    """An uploaded file as a float32 RGB array, or an ImageError whose message is one line.

    Decoded and checked exactly as `helpers.images.load_image` does a file; very large
    uploads are shrunk to MAX_UPLOAD_SIDE on arrival.
    """
    img = im.decode_image(data, name=name)
    return im.load_image(img, max_size=MAX_UPLOAD_SIDE if max(img.size) > MAX_UPLOAD_SIDE else None, name=name)


def one_line(exc: BaseException) -> str:
    """An exception as one line for the UI (the full traceback stays in `Explorer.last_traceback`)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, im.ImageError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def jpeg(rgb, quality: int = 90) -> bytes:
    """uint8 RGB array -> JPEG bytes (what the Image widgets show)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def thumbnail(rgb, longest: int) -> np.ndarray:
    """A copy of `rgb` whose longest side is `longest` px (never enlarged)."""
    a = np.asarray(rgb)
    if max(a.shape[:2]) <= longest:
        return a.astype(np.uint8)
    img = Image.fromarray(a.astype(np.uint8))
    img.thumbnail((longest, longest), Image.LANCZOS)
    return np.asarray(img)


def loss_plot_png(history: list, title: str = "") -> bytes:
    """PNG of one run's weighted losses, with the paper's layer names: see helpers.plots.loss_plot_png
    (drawn without pyplot, so safe in the explorer's background thread)."""
    from helpers import plots

    return plots.loss_plot_png(history, title=title, names=PAPER_NAMES)


def _short(value: float) -> str:
    """1e+07 -> '1e7', 0.3162 -> '3.2e-1': short labels for the gallery."""
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


@dataclasses.dataclass
class GalleryEntry:
    """One finished run: what the gallery shows and what "restore" puts back."""

    settings: dict
    image: np.ndarray
    history: list
    seconds: float
    evaluations: int
    full: bool = False
    path: Path | None = None  # where a full render was saved
    stopped: str | None = None


class Explorer:
    """The widgets of the explorer and the state behind them.

    size, iterations: preview defaults (longest side in px, loss evaluations).
    full_size, full_iterations: what "Render full size" does: like `python -m helpers.stylize`,
        the coarse levels of DEFAULT_COARSE_TO_FINE first, then `full_iterations` at full size.
    content, style: file names in content_dir / style_dir to start with.
    output_dir: where full renders are saved (default: outputs/ in the repository).
    """

    def __init__(self, size: int | None = None, iterations: int | None = None, full_size: int | None = None,
                 full_iterations: int | None = None, content: str = DEFAULT_CONTENT, style: str = DEFAULT_STYLE,
                 init: str = "content", content_dir=CONTENT_IMAGES, style_dir=STYLE_IMAGES, output_dir=None,
                 refresh_every: int = REFRESH_EVERY):
        size = int(size or fast(DEFAULT_SIZE, 64))
        iterations = int(iterations or fast(DEFAULT_ITERATIONS, 5))
        self.full_size = int(full_size or fast(FULL_SIZE, 96))
        self.full_iterations = int(full_iterations or fast(FULL_ITERATIONS, 5))
        self.output_dir = Path(output_dir) if output_dir else OUTPUT_DIR
        self.refresh_every = max(1, int(refresh_every))

        self._uploads: dict[str, np.ndarray] = {}
        self._shapes: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._render_seconds: dict = {}  # image shape -> seconds of the last full render there, for the note
        self.runs: list[GalleryEntry] = []  # newest first, as in the gallery
        self.result = None                  # the StyleResult of the last finished run
        self.last_error: str | None = None
        self.last_traceback: str | None = None

        self._build(size, iterations, content, style, init, Path(content_dir), Path(style_dir))

    # --- building the widgets ----------------------------------------------------------

    def _build(self, size, iterations, content, style, init, content_dir, style_dir):
        label = {"description_width": "105px"}
        wide = w.Layout(width="430px")

        def images(folder: Path, default: str):
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            options = [(p.stem.replace("_", " "), str(p)) for p in files]
            chosen = str(folder / default) if (folder / default).exists() else options[0][1]
            return options, chosen

        content_options, content_value = images(content_dir, content)
        style_options, style_value = images(style_dir, style)
        self.content_choice = w.Dropdown(options=content_options, value=content_value, description="content image",
                                         style=label, layout=w.Layout(width="290px"))
        self.style_choice = w.Dropdown(options=style_options, value=style_value, description="style image",
                                       style=label, layout=w.Layout(width="290px"))
        self.content_upload = w.FileUpload(accept="image/*", multiple=False, description="upload",
                                           layout=w.Layout(width="130px"))
        self.style_upload = w.FileUpload(accept="image/*", multiple=False, description="upload",
                                         layout=w.Layout(width="130px"))
        self.content_thumb = w.Image(format="jpeg", layout=w.Layout(height="80px", width="auto"))
        self.style_thumb = w.Image(format="jpeg", layout=w.Layout(height="80px", width="auto"))
        # An optional second painting, blended in: the engine averages the two Gram targets with
        # weights (1 - blend, blend) (helpers.controls.blend_grams). Bundled paintings only.
        self.second_style = w.Dropdown(options=[("none", NO_STYLE)] + style_options, value=NO_STYLE,
                                       description="second style", style=label, layout=w.Layout(width="290px"))
        self.second_style_thumb = w.Image(format="jpeg", layout=w.Layout(height="80px", width="auto"))
        self.blend = w.FloatSlider(value=DEFAULT_BLEND, min=0.0, max=1.0, step=0.05, description="blend",
                                   readout_format=".2f", continuous_update=False, style=label,
                                   layout=w.Layout(width="430px"))  # its own: hidden without a second style

        self.strength = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="style strength",
                                      readout_format=".2f", continuous_update=False, style=label, layout=wide)
        self.colour = w.Dropdown(options=[(COLOUR_NAMES[c], c) for c in COLOURS], value="style", description="colours",
                                 style=label, layout=w.Layout(width="430px"))
        self.style_scale = w.FloatLogSlider(value=1.0, base=2, min=-2, max=2, step=0.25, description="style scale",
                                            readout_format=".2f", continuous_update=False, style=label, layout=wide)
        defaults = DEFAULT_WEIGHTS[NORMALIZATION]

        def weight_slider(name, text):
            centre = math.log10(defaults[name]) if defaults[name] > 0 else -4.0
            return w.FloatLogSlider(value=10**centre, base=10, min=centre - DECADES, max=centre + DECADES, step=0.1,
                                    description=text, readout_format=".1e", continuous_update=False,
                                    style=label, layout=wide)

        self.content_weight = weight_slider("content", "content weight")
        self.style_weight = weight_slider("style", "style weight")
        self.tv_weight = weight_slider("tv", "TV weight")

        self.content_layer = w.Dropdown(
            options=[(f"{name}  ({PAPER_NAMES[name]})", name) for name in CONV_LAYERS]
            + [("none: texture only", NO_CONTENT)],
            value=CONTENT_LAYER, description="content layer", style=label, layout=w.Layout(width="320px"))
        self.style_layers = {name: w.Checkbox(value=name in STYLE_LAYERS, description=PAPER_NAMES[name],
                                              indent=False, layout=w.Layout(width="82px"))
                             for name in CONV_LAYERS}
        cells = []
        for row in range(4):
            for block in range(1, 6):
                names = [n for n in CONV_LAYERS if n.startswith(f"block{block}_")]
                if row == 0:
                    cells.append(w.HTML(f"<b>block{block}</b>", layout=w.Layout(width="82px")))
                elif row <= len(names):
                    cells.append(self.style_layers[names[row - 1]])
                else:
                    cells.append(w.HTML("", layout=w.Layout(width="82px")))
        self.layer_grid = w.GridBox(cells, layout=w.Layout(grid_template_columns="repeat(5, 84px)",
                                                           margin="0 0 0 12px"))

        self.size = w.IntSlider(value=size, min=min(SIZE_RANGE[0], size), max=max(SIZE_RANGE[1], size), step=16,
                                description="preview size", continuous_update=False, style=label, layout=wide)
        self.iterations = w.IntSlider(value=iterations, min=min(5, iterations), max=max(200, iterations), step=1,
                                      description="evaluations", continuous_update=False, style=label, layout=wide)
        self.init = w.Dropdown(options=[(f"the {i} image" if i != "noise" else "noise", i) for i in INITS],
                               value=init, description="start from", style=label, layout=w.Layout(width="290px"))

        self.run_button = w.Button(description="Run", button_style="primary", icon="play",
                                   tooltip="Optimize a preview with these settings")
        self.stop_button = w.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                    tooltip="Stop now and keep the best image so far")
        self.full_button = w.Button(description="Render full size", icon="image", layout=w.Layout(width="170px"),
                                    tooltip="The same settings at full size, saved to outputs/")
        self.progress = w.IntProgress(value=0, min=0, max=iterations, layout=w.Layout(width="430px"))
        self.status = w.HTML("Press <b>Run</b>.")
        self.message = w.HTML("")
        self.full_note = w.HTML("", layout=w.Layout(width="430px"))

        self.preview = w.Image(format="jpeg", layout=w.Layout(width=PREVIEW_WIDTH))
        self.loss_plot = w.Image(format="png", layout=w.Layout(width="384px"))
        self.gallery = w.Box([], layout=w.Layout(display="flex", flex_flow="row wrap", width="100%"))

        # CSS classes: stable handles for styling and for the browser test (tests/test_browser.py)
        for widget, name in [(self.run_button, "run"), (self.stop_button, "stop"), (self.full_button, "full"),
                             (self.preview, "preview"), (self.loss_plot, "loss-plot"), (self.gallery, "gallery"),
                             (self.status, "status"), (self.message, "message"), (self.content_weight, "content-weight"),
                             (self.style_weight, "style-weight"), (self.tv_weight, "tv-weight"),
                             (self.content_upload, "content-upload"), (self.style_upload, "style-upload"),
                             (self.strength, "strength"), (self.colour, "colour"), (self.style_scale, "style-scale"),
                             (self.second_style, "second-style"), (self.blend, "blend")]:
            widget.add_class(f"nst-{name}")

        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.full_button.on_click(lambda _: self.render_full())
        self.content_upload.observe(lambda change: self._on_upload("content", change), names="value")
        self.style_upload.observe(lambda change: self._on_upload("style", change), names="value")
        self.content_choice.observe(lambda _: self._on_image_change("content"), names="value")
        self.style_choice.observe(lambda _: self._on_image_change("style"), names="value")
        self.second_style.observe(lambda _: self._on_second_style_change(), names="value")
        self.size.observe(lambda _: self._update_full_note(), names="value")

        def section(text):
            return w.HTML(f"<div style='margin-top:6px;font-weight:600;border-bottom:1px solid #ccc'>{text}</div>",
                          layout=w.Layout(width="430px"))

        self.controls = w.VBox([
            section("Style strength (0: a tenth of the style weight, 0.5: as set, 1: ten times) and colours"),
            self.strength, self.colour,
            section("Images (blend: the second style's share; style scale: the paintings resized by this factor "
                    "first; < 1: larger brush strokes)"),
            w.HBox([self.content_choice, self.content_upload]), w.HBox([self.content_thumb], layout=w.Layout(margin="0 0 0 110px")),
            w.HBox([self.style_choice, self.style_upload]), w.HBox([self.style_thumb], layout=w.Layout(margin="0 0 0 110px")),
            self.second_style, w.HBox([self.second_style_thumb], layout=w.Layout(margin="0 0 0 110px")), self.blend,
            self.style_scale,
            section("Weights (log scale, 10<sup>\u00b13</sup> around the defaults)"),
            self.content_weight, self.style_weight, self.tv_weight,
            section("Layers"),
            self.content_layer, w.HTML("<span style='margin-left:4px'>style layers:</span>"), self.layer_grid,
            section("Run"),
            self.size, self.iterations, self.init,
            w.HBox([self.run_button, self.stop_button, self.full_button]),
            self.progress, self.status, self.message, self.full_note,
        ], layout=w.Layout(width="450px"))
        controls = self.controls
        results = w.VBox([w.HTML("<b>Preview</b>"), self.preview, self.loss_plot], layout=w.Layout(margin="0 0 0 16px"))
        self.widget = w.VBox([
            w.HBox([controls, results]),
            w.HTML("<div style='margin-top:10px;font-weight:600;border-bottom:1px solid #ccc'>"
                   "Gallery: every finished run, newest first (\u21ba puts its settings back)</div>"),
            self.gallery,
        ])

        self.widget.add_class("nst-explorer")

        self._on_image_change("content")
        self._on_image_change("style")
        self._on_second_style_change()
        self.preview.value = jpeg(im.resize(self._rgb(self.content_choice.value),
                                            self._fit(self.content_choice.value, size)))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return (f"Explorer(content={Path(self.content_choice.value).name!r}, style={Path(self.style_choice.value).name!r}, "
                f"runs={len(self.runs)})")

    # --- images ----------------------------------------------------------------------------

    def _rgb(self, key: str) -> np.ndarray:
        """The image behind a dropdown value: an uploaded array or a file."""
        if key in self._uploads:
            return self._uploads[key]
        return im.load_image(key)

    def _shape(self, key: str) -> tuple[int, int]:
        if key not in self._shapes:
            self._shapes[key] = self._rgb(key).shape[:2]
        return self._shapes[key]

    def _fit(self, key: str, size: int) -> tuple[int, int]:
        return im.fit_size(*self._shape(key), size)

    @staticmethod
    def _name(key: str) -> str:
        """A short name for file names and labels: the file stem (uploads: the uploaded file's stem)."""
        return Path(key.split(":", 2)[-1]).stem

    def _on_image_change(self, kind: str):
        """Show the thumbnail of the picture now chosen; kind: "content", "style" or "second_style"."""
        choice, thumb = {"content": (self.content_choice, self.content_thumb),
                         "style": (self.style_choice, self.style_thumb),
                         "second_style": (self.second_style, self.second_style_thumb)}[kind]
        try:
            thumb.value = jpeg(thumbnail(self._rgb(choice.value), 160), quality=85)
        except Exception as exc:  # a file that vanished or broke since start-up
            self._error(one_line(exc))
        self._update_full_note()

    def _on_second_style_change(self):
        """Show the second style's thumbnail, and the blend slider only while a second style is chosen."""
        chosen = self.second_style.value != NO_STYLE
        self.blend.disabled = not chosen
        self.blend.layout.display = None if chosen else "none"
        self.second_style_thumb.layout.display = None if chosen else "none"
        if chosen:
            self._on_image_change("second_style")

    def _on_upload(self, kind: str, change):
        files = uploaded_files(change["new"])
        if not files:
            return
        name, data = files[-1]
        try:
            rgb = decode_upload(name, data)
        except Exception as exc:
            self._error(one_line(exc) if isinstance(exc, im.ImageError) else f"{name}: {one_line(exc)}")
            return
        key = f"upload:{hashlib.sha1(data).hexdigest()[:10]}:{name}"
        self._uploads[key] = rgb
        choice = self.content_choice if kind == "content" else self.style_choice
        if key not in [value for _, value in choice.options]:
            choice.options = list(choice.options) + [(f"\u2b06 {name}", key)]
        choice.value = key
        self._say(f"Using your {kind} image <b>{html.escape(name)}</b> ({rgb.shape[1]}\u00d7{rgb.shape[0]} px).")

    # --- messages --------------------------------------------------------------------------

    def _say(self, text: str):
        self.message.value = f"<span style='color:#205020'>{text}</span>"

    def _error(self, text: str):
        self.last_error = text
        self.message.value = f"<span style='color:#b00020'>\u26a0 {html.escape(text)}</span>"

    def _update_full_note(self):
        try:
            preview = self._fit(self.content_choice.value, self.size.value)
            full = self._fit(self.content_choice.value, self.full_size)
        except Exception:
            return
        estimate = ""
        if tuple(full) in self._render_seconds:  # measured by an earlier render of this size
            estimate = f", about {self._render_seconds[tuple(full)]:.0f} s on this machine"
        coarse = ", ".join(f"{n} at {scale:g}" for scale, n in DEFAULT_COARSE_TO_FINE)
        self.full_note.value = (
            f"<div style='font-size:12px;line-height:1.4;color:#444'><b>Render full size</b>: {full[1]}\u00d7{full[0]} px, "
            f"{coarse} of the size, then {self.full_iterations} evaluations"
            f"{estimate}, saved to <code>outputs/</code>. The same weights give the same balance as the "
            f"{preview[1]}\u00d7{preview[0]} px preview: the content and TV losses are sums over pixels, so the "
            f"engine weighs them by 512\u00d7384 / (width \u00d7 height) at every size "
            f"(<code>helpers.settings.weights_at_size</code>).</div>")

    # --- settings ----------------------------------------------------------------------------

    def settings(self) -> dict:
        """The current choices, as one plain dict (what a run uses and the gallery records)."""
        layer = self.content_layer.value
        return {
            "content": self.content_choice.value,
            "style": self.style_choice.value,
            "second_style": None if self.second_style.value == NO_STYLE else self.second_style.value,
            "blend": float(self.blend.value),
            "size": int(self.size.value),
            "iterations": int(self.iterations.value),
            "weights": {"content": float(self.content_weight.value), "style": float(self.style_weight.value),
                        "tv": float(self.tv_weight.value)},
            "content_layer": None if layer == NO_CONTENT else layer,
            "style_layers": [name for name in CONV_LAYERS if self.style_layers[name].value],
            "init": self.init.value,
            "strength": float(self.strength.value),
            "colour": self.colour.value,
            "style_scale": float(self.style_scale.value),
        }

    def apply(self, settings: dict):
        """Set the controls from a settings dict (e.g. a gallery entry's)."""
        self.content_choice.value = settings["content"]
        self.style_choice.value = settings["style"]
        self.second_style.value = settings["second_style"] or NO_STYLE
        self.blend.value = settings["blend"]
        self.size.value = settings["size"]
        self.iterations.value = settings["iterations"]
        self.content_weight.value = settings["weights"]["content"]
        self.style_weight.value = settings["weights"]["style"]
        self.tv_weight.value = settings["weights"]["tv"]
        self.content_layer.value = settings["content_layer"] or NO_CONTENT
        for name, box in self.style_layers.items():
            box.value = name in settings["style_layers"]
        self.init.value = settings["init"]
        self.strength.value = settings["strength"]
        self.colour.value = settings["colour"]
        self.style_scale.value = settings["style_scale"]

    @property
    def cache(self) -> ProblemCache:
        """The shared cache of problems (`helpers.problem.CACHE`): targets and compiled loss each."""
        return CACHE

    def run_settings(self, settings: dict, **changes) -> Settings:
        """The engine's Settings for a settings dict of the controls (`settings()`).

        With a second style, `style_blend` is (1 - blend, blend): the two paintings' shares.
        """
        wts = settings["weights"]
        blend = (1.0 - settings["blend"], settings["blend"]) if settings["second_style"] else None
        return Settings(content_weight=wts["content"], style_weight=wts["style"], tv_weight=wts["tv"],
                        content_layer=settings["content_layer"], style_layers=tuple(settings["style_layers"]),
                        normalization=NORMALIZATION, init=settings["init"], iterations=settings["iterations"],
                        strength=settings["strength"], colour=settings["colour"],
                        style_scale=settings["style_scale"], style_blend=blend).replace(**changes)

    def _source(self, key: str):
        """What the engine loads for a dropdown value: an uploaded array or the file's path."""
        return self._uploads.get(key, key)

    def _problem_args(self, settings: dict, size) -> dict:
        """The cache's arguments; size: longest side in px, or (height, width) (one key for both)."""
        shape = self._fit(settings["content"], size) if isinstance(size, int) else tuple(size)
        style = self._source(settings["style"])
        if settings["second_style"]:
            style = [style, self._source(settings["second_style"])]
        return {"content": self._source(settings["content"]), "style": style, "size": shape,
                "settings": self.run_settings(settings)}

    def problem(self, settings: dict, size) -> StyleTransfer:
        """The problem for these settings at `size` (longest side, or (height, width)), built once (style
        targets, compiled loss)."""
        return CACHE.get(**self._problem_args(settings, size))

    # --- running ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, block: bool = False):
        """Optimize a preview with the current settings (the Run button).

        In a background thread; block=True waits and returns the StyleResult (None after an error).
        """
        return self._start(full=False, block=block)

    def render_full(self, block: bool = False):
        """The current settings at full size with more evaluations, saved to outputs/ (the button)."""
        return self._start(full=True, block=block)

    def stop(self):
        """End the current run after its current evaluation; it keeps the best image so far."""
        if self.running:
            self._stop.set()
            self.status.value = "stopping\u2026"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current run to end; False if it is still running after `timeout` seconds."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _start(self, full: bool, block: bool):
        if self.running:
            self._error("A run is in progress: wait for it or press Stop.")
            return None
        settings = self.settings()
        if settings["content_layer"] is None and not settings["style_layers"]:
            self._error("Choose a content layer or at least one style layer: there is nothing to optimize.")
            return None
        self.message.value = ""
        self.last_error = None
        self.result = None
        self._stop.clear()
        self._busy(True)
        self._thread = threading.Thread(target=self._work, args=(settings, full), daemon=True, name="nst-explorer")
        self._thread.start()
        if block:
            self._thread.join()
            return self.result
        return None

    def _busy(self, busy: bool):
        self.run_button.disabled = busy
        self.full_button.disabled = busy
        self.stop_button.disabled = not busy

    def _work(self, settings: dict, full: bool):
        try:
            self._optimize(settings, full)
        except Exception as exc:  # the UI gets one line; the traceback is kept for whoever debugs
            self.last_traceback = traceback.format_exc()
            self._error(one_line(exc))
            self.status.value = "Failed: see the message below."
        finally:
            self._busy(False)

    def _optimize(self, settings: dict, full: bool):
        size = self.full_size if full else settings["size"]
        # a full render runs the command's coarse levels first (helpers.settings.DEFAULT_COARSE_TO_FINE)
        run_settings = self.run_settings(settings, iterations=self.full_iterations if full else settings["iterations"],
                                         coarse_to_fine=DEFAULT_COARSE_TO_FINE if full else ())
        # the same settings at every size: the engine keeps the balance (helpers.settings.weights_at_size)
        stages = plan_stages(final_shape=self._fit(settings["content"], size), iterations=run_settings.iterations,
                             coarse_to_fine=run_settings.coarse_to_fine)
        iterations = sum(stage.iterations for stage in stages)
        what = f"{html.escape(self._name(settings['content']))} \u00d7 {html.escape(self._styles(settings))} at {size} px"
        if CACHE.key(**self._problem_args(settings, stages[-1].shape)) in CACHE:
            self.status.value = f"{what}: reusing the cached targets and compiled loss\u2026"
        else:
            self.status.value = (f"{what}: computing the style targets and compiling the loss "
                                 f"(once for these images, size and layers)\u2026")
        self.progress.max, self.progress.value = iterations, 0
        problems = [self.problem(settings, stage.shape) for stage in stages]
        problem = problems[-1]

        start, done = time.perf_counter(), [0]

        def callback(progress):
            done[0] += 1  # across the stages (each stage counts its own evaluations from 1)
            i = done[0]
            self.progress.value = i
            self.status.value = (f"{'Full size' if full else 'Preview'}: evaluation {i}/{iterations} \u00b7 "
                                 f"loss {progress.loss:.3g} \u00b7 {time.perf_counter() - start:.1f} s")
            if i % self.refresh_every == 0:
                self.preview.value = jpeg(problem.finish(progress.image()))
            return self._stop.is_set()

        # run_stages also finishes the picture (the colour mode's last step)
        result = run_stages(problems, stages=stages, settings=run_settings, callback=callback, progress=False)
        self.result = result
        self.preview.value = jpeg(result.image)
        evaluations = len(result.history)
        if full and not result.stopped:
            self._render_seconds[tuple(problem.shape)] = result.seconds
        path = None
        if full:
            # A unique name, created exclusively: renders by other users of a shared outputs/ never collide.
            styles = [self._name(settings["style"])] + ([self._name(settings["second_style"])]
                                                          if settings["second_style"] else [])
            name = unique_name("_".join([self._name(settings["content"]), *styles]), ".png")
            path = im.save_image(result.image, self.output_dir / name, overwrite=False)
        entry = GalleryEntry(settings, result.image, result.history, result.seconds, evaluations, full, path,
                             result.stopped)
        self.loss_plot.value = loss_plot_png(result.history, self._title(entry))
        self._add_to_gallery(entry)
        self._update_full_note()
        done = f"stopped after {evaluations}/{iterations} evaluations, kept the best image so far" if result.stopped \
            else f"{evaluations} evaluations"
        saved = f" \u00b7 saved <code>{html.escape(self._display_path(path))}</code>" if path else ""
        self.status.value = (f"Done: {done} in {result.seconds:.1f} s \u00b7 best loss {result.best_loss:.3g}{saved}")

    @staticmethod
    def _display_path(path: Path) -> str:
        try:
            return str(path.relative_to(REPO))
        except ValueError:
            return str(path)

    # --- gallery -------------------------------------------------------------------------------

    @staticmethod
    def _title(entry: GalleryEntry) -> str:
        s = entry.settings
        return f"{'full' if entry.full else 'preview'} {max(entry.image.shape[:2])} px: content {_short(s['weights']['content'])}, " \
               f"style {_short(s['weights']['style'])}, TV {_short(s['weights']['tv'])}"

    def _styles(self, settings: dict) -> str:
        """The style picture(s) of a settings dict, for labels: "wave", or "wave 0.70 + starry_night 0.30"."""
        if not settings["second_style"]:
            return self._name(settings["style"])
        blend = settings["blend"]
        return f"{self._name(settings['style'])} {1 - blend:.2f} + {self._name(settings['second_style'])} {blend:.2f}"

    def _label(self, entry: GalleryEntry) -> str:
        s = entry.settings
        wts = s["weights"]
        layer = PAPER_NAMES[s["content_layer"]] if s["content_layer"] else "none"
        style = ", ".join(PAPER_NAMES[n][4:] for n in s["style_layers"]) or "none"
        lines = [
            f"<b>{html.escape(self._name(s['content']))} \u00d7 {html.escape(self._styles(s))}</b>",
            f"content {_short(wts['content'])} \u00b7 style {_short(wts['style'])} \u00b7 TV {_short(wts['tv'])}",
            f"content layer {layer} \u00b7 style {style}",
            f"strength {s['strength']:.2f} \u00b7 style scale {s['style_scale']:.2f} \u00b7 colours: "
            + html.escape(COLOUR_NAMES[s["colour"]]),
            f"{entry.image.shape[1]}\u00d7{entry.image.shape[0]} px \u00b7 {entry.evaluations} evals \u00b7 "
            f"{entry.seconds:.1f} s \u00b7 from {s['init']}",
        ]
        if entry.path:
            lines.append(f"saved {html.escape(entry.path.name)}")
        if entry.stopped:
            lines.append("<i>stopped early</i>")
        return "<div style='font-size:11px;line-height:1.35'>" + "<br>".join(lines) + "</div>"

    def _add_to_gallery(self, entry: GalleryEntry):
        self.runs.insert(0, entry)
        del self.runs[GALLERY_SIZE:]
        image = w.Image(value=jpeg(thumbnail(entry.image, THUMB_PX), quality=85), format="jpeg",
                        layout=w.Layout(width=f"{THUMB_PX}px"))
        restore = w.Button(description="\u21ba restore", layout=w.Layout(width=f"{THUMB_PX}px"),
                           tooltip="Put these settings back into the controls; show this run's image and losses")
        restore.on_click(lambda _: self.restore(entry))
        card = w.VBox([image, w.HTML(self._label(entry), layout=w.Layout(width=f"{THUMB_PX + 10}px")), restore],
                      layout=w.Layout(border="1px solid #ddd", padding="4px", margin="0 8px 8px 0"))
        self.gallery.children = (card,) + tuple(self.gallery.children)[: GALLERY_SIZE - 1]

    def restore(self, entry: GalleryEntry | int):
        """Put a gallery entry's settings back into the controls and show its image and loss plot."""
        if isinstance(entry, int):
            entry = self.runs[entry]
        try:
            self.apply(entry.settings)
        except Exception as exc:  # e.g. an upload from an earlier session
            self._error(f"cannot restore these settings: {one_line(exc)}")
            return
        self.preview.value = jpeg(entry.image)
        self.loss_plot.value = loss_plot_png(entry.history, self._title(entry))
        self._say("Settings restored from the gallery.")


def explorer(**kwargs) -> Explorer:
    """Build the explorer, display it, and return it (see `Explorer` for the arguments)."""
    from IPython.display import display

    ui = Explorer(**kwargs)
    display(ui.widget)
    return ui
