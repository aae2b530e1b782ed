"""The explorer of notebook 07, driven headlessly: the buttons' methods, real VGG16 weights, tiny sizes."""
from __future__ import annotations

import datetime
import io
import time

import ipywidgets
import numpy as np
import pytest
from PIL import Image

from helpers import widgets
from helpers.widgets import Explorer

TIMEOUT_S = 300  # a 2-core machine shared with other jobs can be slow; a hang still fails


def make_explorer(tmp_path, **kwargs) -> Explorer:
    options = {"size": 48, "iterations": 4, "full_size": 64, "full_iterations": 3, "output_dir": tmp_path / "outputs"}
    options.update(kwargs)
    return Explorer(**options)


def wait_until(predicate, timeout=TIMEOUT_S, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def set_upload(upload: ipywidgets.FileUpload, name: str, data: bytes):
    """What the browser does when a user picks a file, in this ipywidgets version's format."""
    if int(ipywidgets.__version__.split(".")[0]) >= 8:
        upload.value = ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                         "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    else:  # 7.x: {name: {"metadata": {...}, "content": bytes}}, a read-only trait set by the front end
        upload.set_trait("value", {name: {"metadata": {"name": name, "type": "image/png", "size": len(data)},
                                          "content": data}})


def png_bytes(width, height) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# --- pure functions -------------------------------------------------------------------


def test_uploaded_files_reads_both_ipywidgets_formats():
    v7 = {"a.png": {"metadata": {"name": "a.png", "type": "image/png", "size": 3}, "content": b"abc"}}
    v8 = ({"name": "b.jpg", "type": "image/jpeg", "size": 2, "content": memoryview(b"xy"),
           "last_modified": datetime.datetime(2024, 1, 1)},)
    assert widgets.uploaded_files(v7) == [("a.png", b"abc")]
    assert widgets.uploaded_files(v8) == [("b.jpg", b"xy")]
    assert widgets.uploaded_files(()) == [] and widgets.uploaded_files({}) == []


def test_decode_upload_errors_are_one_line():
    for name, data, words in [("notes.txt", b"hello, not a picture", "not an image"),
                              ("broken.png", png_bytes(64, 64)[:200], "damaged"),
                              ("tiny.png", png_bytes(16, 16), "too small"),
                              ("empty.png", b"", "empty")]:
        with pytest.raises(widgets.im.ImageError) as info:
            widgets.decode_upload(name, data)
        message = str(info.value)
        assert name in message and words in message and "\n" not in message, message


def test_decode_upload_refuses_nan_like_load_image():
    a = np.full((40, 40), 0.5, dtype=np.float32)
    a[1, 2] = np.nan
    buf = io.BytesIO()
    Image.fromarray(a, mode="F").save(buf, format="TIFF")
    with pytest.raises(widgets.im.ImageError) as info:
        widgets.decode_upload("scan.tif", buf.getvalue())
    assert str(info.value) == "scan.tif: has NaN or infinite pixel values"


def test_upload_names_are_escaped_in_html(weights_path, tmp_path):
    ui = make_explorer(tmp_path)
    name = "<img src=x onerror=alert(1)>.png"
    set_upload(ui.style_upload, name, png_bytes(80, 60))
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in ui.message.value and "<img" not in ui.message.value
    set_upload(ui.content_upload, "<script>.png", b"not a picture")
    assert "&lt;script&gt;.png" in ui.message.value and "<script>" not in ui.message.value


def test_loss_plot_is_a_png():
    history = [{"evaluation": i, "total": 10.0 / i, "content": 4.0 / i, "style/block1_conv2": 3.0 / i,
                "style/block2_conv2": 2.0 / i, "tv": 1.0 / i} for i in range(1, 6)]
    data = widgets.loss_plot_png(history, "a title")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(data)).size[0] > 100


# --- the explorer -------------------------------------------------------------------------


def test_strength_is_the_first_slider_and_colour_a_choice(tmp_path):
    ui = make_explorer(tmp_path)
    sliders = [c for c in ui.controls.children if isinstance(c, (ipywidgets.FloatSlider, ipywidgets.FloatLogSlider,
                                                                 ipywidgets.IntSlider))]
    assert sliders[0] is ui.strength and ui.strength.value == 0.5
    assert [value for _, value in ui.colour.options] == list(widgets.COLOURS) and ui.colour.value == "style"
    ui.strength.value, ui.colour.value, ui.style_scale.value = 1.0, "luminance", 0.5
    settings = ui.settings()
    run = ui.run_settings(settings)
    assert (run.strength, run.colour, run.style_scale) == (1.0, "luminance", 0.5)
    assert run.weights["style"] == pytest.approx(10 * ui.style_weight.value)  # rule (c): x10 at strength 1
    ui.strength.value, ui.colour.value, ui.style_scale.value = 0.2, "style", 2.0
    ui.apply(settings)  # what restore does
    assert (ui.strength.value, ui.colour.value, ui.style_scale.value) == (1.0, "luminance", 0.5)


def test_a_second_style_is_optional_and_blended_by_its_slider(tmp_path):
    ui = make_explorer(tmp_path)
    assert ui.second_style in ui.controls.children and ui.blend in ui.controls.children
    assert ui.second_style.options[0] == ("none", widgets.NO_STYLE) and ui.second_style.value == widgets.NO_STYLE
    assert [value for _, value in ui.second_style.options[1:]] == [value for _, value in ui.style_choice.options]
    assert ui.blend.disabled and ui.blend.layout.display == "none"  # shown only with a second style
    assert ui.strength.layout.display != "none" and ui.style_scale.layout.display != "none"  # the others stay
    single = ui.settings()
    assert single["second_style"] is None and ui.run_settings(single).style_blend is None
    assert ui._problem_args(single, 48)["style"] == ui.style_choice.value  # one picture, not a list

    wave = str(widgets.STYLE_IMAGES / "great_wave.jpg")
    ui.second_style.value, ui.blend.value = wave, 0.3
    assert not ui.blend.disabled and ui.blend.layout.display != "none" and ui.second_style_thumb.value
    blended = ui.settings()
    assert ui.run_settings(blended).style_blend == pytest.approx((0.7, 0.3))  # (1 - blend, blend)
    assert ui._problem_args(blended, 48)["style"] == [ui.style_choice.value, wave]

    ui.second_style.value, ui.blend.value = widgets.NO_STYLE, 0.5
    assert ui.blend.disabled
    ui.apply(blended)  # what restore does: both come back
    assert (ui.second_style.value, ui.blend.value) == (wave, 0.3) and not ui.blend.disabled
    ui.apply(single)
    assert ui.second_style.value == widgets.NO_STYLE and ui.blend.disabled


@pytest.mark.slow
def test_a_run_with_a_second_style_blends_the_two_targets(weights_path, tmp_path):
    ui = make_explorer(tmp_path)  # tiny: 48 px, 4 evaluations
    starry, wave = ui.style_choice.value, str(widgets.STYLE_IMAGES / "great_wave.jpg")
    ui.second_style.value, ui.blend.value = wave, 0.3
    result = ui.run(block=True)
    assert result is not None, ui.last_traceback
    size = ui.size.value
    problem = ui.problem(ui.settings(), size)  # the cached problem the run used
    assert len(problem.style_rgbs) == 2
    assert "starry_night 0.70 + great_wave 0.30" in ui.gallery.children[0].children[1].value

    # Each painting alone ("none": a single-style problem); the run's targets are 0.7 and 0.3 of theirs.
    ui.second_style.value = widgets.NO_STYLE
    first = ui.problem(ui.settings(), size)
    ui.style_choice.value = wave
    second = ui.problem(ui.settings(), size)
    assert len(first.style_rgbs) == 1 and len(second.style_rgbs) == 1
    np.testing.assert_array_equal(problem.style_rgbs[0], first.style_rgb)
    np.testing.assert_array_equal(problem.style_rgbs[1], second.style_rgb)
    for layer in problem.style_layers:
        a1, a2, blend = (targets[layer].numpy().astype(np.float32)
                         for targets in (first.style_targets, second.style_targets, problem.style_targets))
        # 1 % of the largest entry: room for bfloat16, far below the 0.4 (A1 - A2) a wrong blend would add
        np.testing.assert_allclose(blend, 0.7 * a1 + 0.3 * a2, rtol=0, atol=0.01 * np.abs(a1).max())

    ui.restore(0)  # the blended run's settings come back: both styles and the blend
    assert (ui.style_choice.value, ui.second_style.value, ui.blend.value) == (starry, wave, 0.3)
    assert not ui.blend.disabled


@pytest.mark.slow
def test_a_luminance_run_keeps_the_photos_colours(weights_path, tmp_path):
    from helpers.colour import rgb_to_yiq

    ui = make_explorer(tmp_path)
    ui.colour.value = "luminance"
    result = ui.run(block=True)
    assert result is not None, ui.last_traceback
    assert result.settings["colour"] == "luminance"
    photo = ui.problem(ui.settings(), ui.settings()["size"]).photo_rgb
    inside = np.all((result.image > 0) & (result.image < 255), axis=-1)
    np.testing.assert_allclose(rgb_to_yiq(result.image)[inside][:, 1:], rgb_to_yiq(photo)[inside][:, 1:], atol=1.0)
    assert "strength 0.50" in widgets.Explorer._label(ui, ui.runs[0])


@pytest.mark.slow
def test_run_button_updates_preview_and_gallery(weights_path, tmp_path):
    ui = make_explorer(tmp_path, refresh_every=1)
    before = ui.preview.value
    assert before and len(ui.gallery.children) == 0
    ui.content_weight.value = ui.content_weight.value * 10
    ui.style_weight.value = ui.style_weight.value / 10
    ui.run_button.click()  # what a user's click does: returns at once, the run goes on in a thread
    assert ui.wait(TIMEOUT_S), "run did not finish"
    assert ui.last_error is None, ui.last_traceback
    result = ui.result
    assert result is not None and len(result.history) == 4 and result.image.shape[:2] == (36, 48)
    assert result.settings["weights"]["content"] == pytest.approx(ui.content_weight.value)
    assert ui.preview.value != before
    assert ui.preview.value == widgets.jpeg(result.image)
    assert len(ui.gallery.children) == 1 and len(ui.runs) == 1
    assert ui.loss_plot.value[:4] == b"\x89PNG"
    assert ui.status.value.startswith("Done") and ui.progress.value == 4
    assert not ui.run_button.disabled and ui.stop_button.disabled


@pytest.mark.slow
def test_two_explorers_in_one_kernel_run_at_once(weights_path, tmp_path):
    """Two notebooks' explorers (or two Voila users) previewing at the same time: both loss plots
    are drawn in their own threads, concurrently, without errors."""
    first, second = make_explorer(tmp_path, refresh_every=1), make_explorer(tmp_path, refresh_every=1)
    second.style_weight.value = second.style_weight.value * 10  # not the same problem's weights
    first.run_button.click()
    second.run_button.click()
    assert first.wait(TIMEOUT_S) and second.wait(TIMEOUT_S), "runs did not finish"
    for ui in (first, second):
        assert ui.last_error is None, ui.last_traceback
        assert ui.loss_plot.value[:4] == b"\x89PNG" and len(ui.result.history) == 4


@pytest.mark.slow
def test_second_run_reuses_the_cached_problem_and_compiled_loss(weights_path, tmp_path):
    ui = make_explorer(tmp_path)
    ui.cache.clear()  # shared with other tests in this process: count this test's builds only
    first = ui.run(block=True)
    assert first is not None, ui.last_traceback
    problem = ui.problem(ui.settings(), ui.size.value)  # the shared cache's
    builds = ui.cache.builds
    compiled = problem._compiled[(widgets.NORMALIZATION, tuple(problem.style_layers))]
    traces = compiled.experimental_get_tracing_count()

    ui.style_weight.value = ui.style_weight.value * 100
    ui.tv_weight.value = ui.tv_weight.value / 10
    second = ui.run(block=True)
    assert second is not None, ui.last_traceback
    assert ui.cache.builds == builds and ui.problem(ui.settings(), ui.size.value) is problem  # targets computed once
    assert compiled.experimental_get_tracing_count() == traces    # new weights, no new trace
    assert second.settings["weights"]["style"] == pytest.approx(100 * first.settings["weights"]["style"])
    assert not np.array_equal(first.image, second.image)
    assert len(ui.gallery.children) == 2

    ui.restore(1)  # the first run's settings come back into the controls
    assert ui.style_weight.value == pytest.approx(first.settings["weights"]["style"])
    assert ui.preview.value == widgets.jpeg(first.image)

    ui.size.value = 64  # another size is another problem
    assert ui.run(block=True) is not None
    assert ui.cache.builds == builds + 1


@pytest.mark.slow
def test_stop_during_a_run_keeps_the_current_image(weights_path, tmp_path):
    ui = make_explorer(tmp_path, iterations=500, refresh_every=1)
    ui.run_button.click()
    wait_until(lambda: ui.progress.value >= 2, what="two evaluations")
    assert ui.running and not ui.stop_button.disabled and ui.run_button.disabled
    ui.stop_button.click()
    assert ui.wait(TIMEOUT_S), "run did not stop"
    result = ui.result
    assert result is not None and result.stopped, ui.last_traceback
    assert 2 <= len(result.history) < 500
    assert ui.preview.value == widgets.jpeg(result.image)  # the best image so far, shown
    assert "stopped" in ui.status.value and "stopped early" in ui.gallery.children[0].children[1].value
    assert not ui.run_button.disabled and ui.stop_button.disabled


@pytest.mark.slow
def test_a_second_run_while_running_is_refused(weights_path, tmp_path):
    ui = make_explorer(tmp_path, iterations=500)
    ui.run()
    try:
        wait_until(lambda: ui.progress.value >= 1, what="one evaluation")
        assert ui.run() is None and "in progress" in ui.message.value
    finally:
        ui.stop()
        assert ui.wait(TIMEOUT_S)


@pytest.mark.slow
def test_bad_upload_shows_a_one_line_error(weights_path, tmp_path):
    ui = make_explorer(tmp_path)
    chosen = ui.content_choice.value
    set_upload(ui.content_upload, "holiday.png", b"this is not a picture at all")
    assert "holiday.png" in ui.message.value and "not an image" in ui.message.value
    assert "\n" not in ui.message.value and "Traceback" not in ui.message.value
    assert ui.content_choice.value == chosen  # nothing changed

    set_upload(ui.style_upload, "my painting.png", png_bytes(80, 60))  # a good one is selected
    assert ui.style_choice.value.startswith("upload:") and ui.style_choice.value.endswith("my painting.png")
    assert "my painting.png" in ui.message.value and "\u26a0" not in ui.message.value
    result = ui.run(block=True)
    assert result is not None, ui.last_traceback
    assert ui.runs[0].path is None  # previews are not saved


@pytest.mark.slow
def test_render_full_size_saves_with_the_previews_weights(weights_path, tmp_path):
    ui = make_explorer(tmp_path)
    ui.full_size = 128  # tiny, but its half (48 x 64 px) still fits VGG16; its quarter does not
    result = ui.render_full(block=True)
    assert result is not None, ui.last_traceback
    entry = ui.runs[0]
    # like the command: the coarse levels first (here only half size), then 3 evaluations at full size
    assert entry.full and max(result.image.shape[:2]) == 128
    assert result.settings["stages"] == [((48, 64), 30), ((96, 128), 3)] and len(result.history) == 33
    # no rescaling here: the engine weighs content and TV for each size (helpers.settings.weights_at_size)
    assert result.settings["weights"]["content"] == pytest.approx(ui.content_weight.value)
    assert result.settings["weights"]["tv"] == pytest.approx(ui.tv_weight.value)
    assert result.settings["weights"]["style"] == pytest.approx(ui.style_weight.value)
    assert entry.path.parent == tmp_path / "outputs" and entry.path.name.startswith("tuebingen_starry_night_")
    assert np.array_equal(np.asarray(Image.open(entry.path)), result.image)
    assert "saved" in ui.status.value and "weights_at_size" in ui.full_note.value

    # The same pair rendered again (another Voila user, one shared outputs/): a new file, nothing overwritten.
    first = entry.path.read_bytes()
    assert ui.render_full(block=True) is not None, ui.last_traceback
    assert ui.runs[0].path != entry.path and ui.runs[0].path.exists() and entry.path.read_bytes() == first


@pytest.mark.slow
def test_nothing_to_optimize_is_an_error_not_a_run(weights_path, tmp_path):
    ui = make_explorer(tmp_path)
    ui.content_layer.value = widgets.NO_CONTENT
    for box in ui.style_layers.values():
        box.value = False
    assert ui.run(block=True) is None
    assert "nothing to optimize" in ui.message.value and not ui.running and not ui.runs


@pytest.mark.slow
def test_explorer_displays_its_widget(weights_path, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    ui = widgets.explorer(size=48, iterations=3, output_dir=tmp_path)
    assert shown == [ui.widget] and isinstance(ui.widget, ipywidgets.VBox)
