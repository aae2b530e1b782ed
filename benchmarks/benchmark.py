"""Benchmark: the original post's method against this project's default path, side by side.

    python benchmarks/benchmark.py            # 256 and 512 px (about 25 min on 2 cores)
    python benchmarks/benchmark.py --quick    # 128 and 192 px, short budgets (under 3 min)
    python benchmarks/benchmark.py --tiny --out /tmp/bench   # 64 px, a few evaluations: a smoke test

Every method minimizes the *same* loss: the post's (content block2_conv2 x 0.025, style
of five layers x 5.0 with its "original" normalization, TV x 1.0) on the same images
at the same square size. Only the way of minimizing it differs:

  original      the post, ported faithfully to TF2: content, style and result pushed
                through the whole VGG16 as a batch of 3 at every evaluation, float32,
                10 x fmin_l_bfgs_b(maxfun=20) restarts, uniform-noise start.
  lbfgs         one continuous L-BFGS-B run, targets computed once, image-only
                gradients, VGG16 cut at block5_conv3: same start, float32.
  +bf16         the same in bfloat16 (where the CPU has it), loss kept in float32.
  +coarse       a half-size stage first, then full size (Gatys et al. 2017).
  default       what `python -m helpers.stylize` does: + the content image as start.

The common loss is evaluated afterwards, in float32, on images saved during each run,
so bfloat16 and coarse stages are judged by the same yardstick. Results go to
benchmarks/results/: table.md, results.json and losses.png.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.optimize
import tensorflow as tf
from threadpoolctl import threadpool_limits

from helpers import images as im
from helpers.losses import content_loss, gram_matrix, style_loss, total_variation_loss
from helpers.model import vgg16
from helpers.optimize import stylize
from helpers.problem import default_precision, get_problem
from helpers.settings import CONTENT_LAYER, STYLE_LAYERS, Settings

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
STYLE = REPO / "images" / "styles" / "great_wave.jpg"
POST_SETTINGS = Settings(normalization="original", style_fit="stretch", init="noise")  # the post's loss and start
POST = POST_SETTINGS.weights  # content 0.025, style 5.0, tv 1.0
BUDGETS = {  # evaluations of the original method, of each project path at full size, of its coarse stage
    "full": {"original": 200, "ours": 100, "coarse": 100},
    "quick": {"original": 40, "ours": 30, "coarse": 20},
    "tiny": {"original": 20, "ours": 6, "coarse": 4},
}
RESULTS = REPO / "benchmarks" / "results"


# --- the original method ---------------------------------------------------------------


def original_method(size: int, evaluations: int, seed: int = 0):
    """The post's optimization loop in TF2. Returns (history, snapshots).

    history: [(evaluation, seconds, loss)]; snapshots: [(evaluation, seconds, image)].
    """
    content = tf.constant(im.preprocess(im.load_image(CONTENT, size=(size, size)))[None])
    style = tf.constant(im.preprocess(im.load_image(STYLE, size=(size, size)))[None])
    base = vgg16("float32")  # the whole convolutional base, as the post
    outputs = {layer.name: layer.output for layer in base.layers}
    model = tf.keras.Model(base.input, [outputs[n] for n in (CONTENT_LAYER, *STYLE_LAYERS)])
    pixels = size * size

    @tf.function
    def loss_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = model(tf.concat([content, style, x], axis=0))  # the batch of 3, every time
            loss = POST["content"] * content_loss(feats[0][0], feats[0][2])
            for f in feats[1:]:
                loss += POST["style"] / len(STYLE_LAYERS) * style_loss(
                    gram_matrix(f[1]), f[2:3], "original", image_pixels=pixels)
            loss += POST["tv"] * total_variation_loss(x)
        return loss, tape.gradient(loss, x)

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (1, size, size, 3)) - 128.0
    loss_and_grad(tf.constant(x, tf.float32))  # trace outside the timing
    history, snapshots, start = [], [(0, 0.0, x.astype(np.float32))], time.perf_counter()

    def f(flat):
        loss, grad = loss_and_grad(tf.constant(flat.reshape(1, size, size, 3), tf.float32))
        history.append((len(history) + 1, time.perf_counter() - start, float(loss)))
        return float(loss), np.asarray(grad, np.float64).ravel()

    flat = x.ravel()
    for _ in range(evaluations // 20):  # the post: for i in range(10): fmin_l_bfgs_b(..., maxfun=20)
        flat, _, _ = scipy.optimize.fmin_l_bfgs_b(f, flat, maxfun=20)
        snapshots.append((len(history), time.perf_counter() - start, flat.reshape(1, size, size, 3).astype(np.float32)))
    return history, snapshots


# --- this project's paths ------------------------------------------------------------


def project_method(size: int, settings: Settings, every: int):
    """stylize() with these settings (the post's loss); returns (history, snapshots) like original_method."""
    snapshots, start = [], [None]

    def keep(progress):
        if start[0] is None:
            start[0] = time.perf_counter() - progress.record["seconds"]
        image = progress.preprocessed  # float32 tensor (1, H, W, 3) at this stage's size
        if image.shape[1:3] == (size, size) and progress.evaluation % every == 0:
            snapshots.append((progress.evaluation, time.perf_counter() - start[0], np.array(image)))

    result = stylize(CONTENT, STYLE, size=(size, size), settings=settings, callback=keep, progress=False)
    history = [(h["evaluation"], h["seconds"], h["total"]) for h in result.history]
    return history, snapshots


def common_loss(size: int):
    """The post's loss in float32, as a function of a preprocessed image (1, S, S, 3)."""
    settings = POST_SETTINGS.replace(precision="float32")
    evaluate = get_problem(CONTENT, STYLE, size=(size, size), settings=settings).evaluator(settings)
    return lambda image: float(evaluate(tf.constant(image, tf.float32))[0])


def time_to_reach(points, target):
    """Seconds and evaluations of the first snapshot whose common loss is <= target, or None."""
    for evaluation, seconds, loss in points:
        if loss <= target:
            return seconds, evaluation
    return None


def run_size(size: int, budget: dict, every: int) -> dict:
    print(f"\n=== {size} x {size} px ===", flush=True)
    loss_of = common_loss(size)
    bf16 = default_precision() == "bfloat16"
    best = "bfloat16" if bf16 else "float32"
    lbfgs = POST_SETTINGS.replace(iterations=budget["ours"], precision="float32")
    coarse = lbfgs.replace(precision=best, coarse_to_fine=((0.5, budget["coarse"]),))
    variants = {
        "lbfgs": lbfgs,
        "+bf16": lbfgs.replace(precision="bfloat16"),
        "+coarse": coarse,
        "default": coarse.replace(init="content"),
    }
    if not bf16:
        variants.pop("+bf16")
    runs = {}
    history, snapshots = original_method(size, budget["original"])
    runs["original"] = {"history": history, "snapshots": snapshots, "setting": "batch of 3, 10 x 20 restarts, float32, noise"}
    print(f"original: {history[-1][2]:.4g} after {len(history)} evaluations, {history[-1][1]:.0f} s", flush=True)
    for name, v in variants.items():
        history, snapshots = project_method(size, v, every=every)
        runs[name] = {"history": history, "snapshots": snapshots,
                      "setting": {"precision": v.precision, "coarse": v.coarse_to_fine, "init": v.init}}
        print(f"{name}: {history[-1][2]:.4g} after {len(history)} evaluations, {history[-1][1]:.0f} s", flush=True)

    # Judge every run by the same float32 loss on its saved images.
    for run in runs.values():
        run["common"] = [(n, s, loss_of(img)) for n, s, img in run.pop("snapshots")]
    target = runs["original"]["common"][-1][2]
    # Correctness: the faithful port and this project's loss agree on the same noise image.
    agree = abs(runs["original"]["common"][0][2] / runs["original"]["history"][0][2] - 1)
    print(f"the two implementations of the post's loss agree to {agree:.1e} (relative)", flush=True)
    rows = {}
    base_spe = runs["original"]["history"][-1][1] / len(runs["original"]["history"])
    for name, run in runs.items():
        # seconds per evaluation at full size only (coarse stages are cheaper and excluded here)
        hist = run["history"]
        full = hist[-budget["ours"]:] if name in ("+coarse", "default") else hist
        spe = (full[-1][1] - full[0][1]) / max(1, len(full) - 1)
        reached = time_to_reach(run["common"], target)
        rows[name] = {
            "seconds_per_evaluation": spe,
            "speedup_per_evaluation": base_spe / spe,
            "final_common_loss": run["common"][-1][2],
            "seconds_total": hist[-1][1],
            "seconds_to_original_final_loss": reached[0] if reached else None,
            "evaluations_to_original_final_loss": reached[1] if reached else None,
        }
    t0 = rows["original"]["seconds_to_original_final_loss"]
    for row in rows.values():
        t = row["seconds_to_original_final_loss"]
        row["speedup_to_original_final_loss"] = (t0 / t) if t else None
    bf16_vs_f32 = (rows["+bf16"]["final_common_loss"] / rows["lbfgs"]["final_common_loss"] - 1) if "+bf16" in rows else None
    return {"target_loss": target, "loss_agreement": agree, "bf16_final_loss_vs_float32": bf16_vs_f32, "rows": rows,
            "curves": {k: {"history": v["history"], "common": v["common"]} for k, v in runs.items()}}


def write_outputs(results: dict, machine: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    lines = [f"Machine: {machine}", ""]
    lines.append("| size | method | s / evaluation | × faster per evaluation | final loss (common, float32) | "
                 "s to original's final loss | × sooner |")
    lines.append("|---|---|---|---|---|---|---|")
    for size, res in results.items():
        for name, r in res["rows"].items():
            t = r["seconds_to_original_final_loss"]
            sp = r["speedup_to_original_final_loss"]
            lines.append(f"| {size} | {name} | {r['seconds_per_evaluation']:.3f} | {r['speedup_per_evaluation']:.1f} | "
                         f"{r['final_common_loss']:.4g} | {'—' if t is None else f'{t:.1f}'} | "
                         f"{'—' if sp is None else f'{sp:.1f}'} |")
    lines.append("")
    for size, res in results.items():
        note = f"{size} px: the faithful port and helpers' loss agree to {res['loss_agreement']:.1e} (relative)"
        if res["bf16_final_loss_vs_float32"] is not None:
            note += f"; bfloat16's final loss is {100 * res['bf16_final_loss_vs_float32']:+.1f} % against float32's"
        lines.append(f"- {note}.")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1) + "\n")

    fig, axes = plt.subplots(len(results), 2, figsize=(12, 4.5 * len(results)), squeeze=False)
    for row, (size, res) in zip(axes, results.items()):
        for name, curve in res["curves"].items():
            ev = [c[0] for c in curve["common"]]
            sec = [c[1] for c in curve["common"]]
            loss = [c[2] for c in curve["common"]]
            row[0].plot(ev, loss, "o-", ms=3, label=name)
            row[1].plot(sec, loss, "o-", ms=3, label=name)
        for ax, xlabel in zip(row, ["evaluations", "seconds"]):
            ax.axhline(res["target_loss"], color="grey", ls=":", lw=1, label="original's final loss")
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("post's loss (float32)")
            ax.set_title(f"{size} x {size} px")
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "losses.png", dpi=80)
    print((out / "table.md").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets (under 3 min on 2 cores)")
    parser.add_argument("--tiny", action="store_true", help="64 px and a few evaluations: a smoke test, not a measurement")
    parser.add_argument("--sizes", type=int, nargs="*",
                        help="square sizes in px (default 256 512; quick: 128 192; tiny: 64)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for table.md, results.json, losses.png")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = args.sizes or {"full": [256, 512], "quick": [128, 192], "tiny": [64]}[mode]
    budget = BUDGETS[mode]
    every = 2 if args.tiny else 5
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or platform.machine()) if Path("/proc/cpuinfo").exists() else platform.machine()
    gpus = tf.config.list_physical_devices("GPU")
    machine = (f"{os.cpu_count()} CPU cores ({cpu}), TensorFlow {tf.__version__}"
               + (f", GPU {tf.config.experimental.get_device_details(gpus[0]).get('device_name', gpus[0].name)}" if gpus else "")
               + f", default precision {default_precision()}")
    print(machine)
    # One BLAS thread for SciPy's bookkeeping in every method (as helpers.optimize does), so the
    # comparison measures the methods, not OpenBLAS fighting TensorFlow for the two cores.
    with threadpool_limits(limits=1, user_api="blas"):
        results = {size: run_size(size, budget, every) for size in sizes}
    write_outputs(results, machine, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
