"""Benchmark: the original post's method against this project's default path, side by side.

    python benchmarks/benchmark.py            # 512 px (384 x 512, about 30 min on 2 cores)
    python benchmarks/benchmark.py --sizes 256 512
    python benchmarks/benchmark.py --quick    # 128 and 192 px, short budgets (under 3 min)
    python benchmarks/benchmark.py --tiny --out /tmp/bench   # 64 px, a few evaluations: a smoke test
    python benchmarks/benchmark.py --emulate avx2             # on an AVX-512/bfloat16 CPU: behave like AVX2

Every method minimizes the *same* loss: the post's (content block2_conv2 x 0.025, style
of five layers x 5.0 with its "original" normalization, TV x 1.0) on the same images
at the same size: the content photo's aspect kept (512 px: 384 x 512), the style
picture stretched to it as the post did. Only the way of minimizing it differs:

  original      the post, ported faithfully to TF2: content, style and result pushed
                through the whole VGG16 as a batch of 3 at every evaluation, float32,
                10 x fmin_l_bfgs_b(maxfun=20) restarts, uniform-noise start, unbounded.
  lbfgs         one continuous L-BFGS-B run bounded to the valid colours, targets computed
                once, image-only gradients, VGG16 cut at block5_conv3: same start, float32.
  +bf16         the same in bfloat16 (where the CPU has it), loss kept in float32.
  +coarse       a pyramid first (60 evaluations at a quarter of the size, 60 at half; Gatys
                et al. 2017), each coarse stage weighted to the final size's balance
                (`helpers.settings.settings_for_stage`), then full size; bfloat16 where the
                CPU has it. Noise start.
  +cut          the same with block4_conv3 and block5_conv3 given weight 0, so VGG16 runs
                only to block3_conv3: they carry < 0.01 % of this loss (judged with all five).
  default       +coarse from the content image, where `python -m helpers.stylize` starts
                (not a noise start, so not the post's problem: shown for scale).

Every run is judged by the loss of the picture a user gets (`StyleTransfer.delivered_loss`):
its image deprocessed, clipped and rounded to 8 bits, then preprocessed again, in float32.
The final picture of each run is saved as a PNG (pictures/) and reloaded for its row; the
curves judge the snapshots taken during the run the same way. The raw loss (of the float
image as optimized) is kept beside it: the post's unbounded pixels leave 0..255, and the
save clips them, so its picture scores worse than its own loss said.

The results name the CPU class they were measured on (model, cores usable, the avx2 /
avx512f / avx512_bf16 / amx_bf16 flags and oneDNN's own ISA line): speeds differ about
5x per evaluation between a CPU with bfloat16 and one without. `--emulate avx2` makes a
bfloat16 machine behave like an AVX2 one: everything in float32 and oneDNN capped at AVX2
(ONEDNN_MAX_CPU_ISA, set before TensorFlow starts); the benchmark refuses to run (exit 1)
unless oneDNN reports AVX2 and every precision resolves to float32. Only oneDNN's kernels
are capped (clock, caches, core count and memory stay the big machine's): trust ratios,
not absolute seconds (see benchmarks/experiments/RESULTS.md, section 4).
Results go to the --out folder (default benchmarks/results/): table.md, results.json,
losses.png and pictures/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# What each --emulate choice sets before TensorFlow starts: oneDNN reads its ISA cap once.
EMULATIONS = {"avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}


def requested_emulation(argv) -> str | None:
    """The --emulate choice in `argv` (None if absent), read before TensorFlow is imported."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--emulate", choices=sorted(EMULATIONS))
    return parser.parse_known_args(argv)[0].emulate


if __name__ == "__main__":  # before the imports below start TensorFlow (and oneDNN)
    os.environ.update(EMULATIONS.get(requested_emulation(sys.argv[1:]), {}))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import scipy.optimize
import tensorflow as tf
from threadpoolctl import threadpool_limits

from helpers import images as im
from helpers.losses import content_loss, gram_matrix, style_loss, total_variation_loss
from helpers.machine import cpu_class
from helpers.model import vgg16
from helpers.optimize import stylize
from helpers.problem import default_precision, get_problem, resolve_precision
from helpers.settings import CONTENT_LAYER, STYLE_LAYERS, Settings

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
STYLE = REPO / "images" / "styles" / "great_wave.jpg"
POST_SETTINGS = Settings(normalization="original", style_fit="stretch", init="noise")  # the post's loss and start
POST = POST_SETTINGS.weights  # content 0.025, style 5.0, tv 1.0
BUDGETS = {  # evaluations of the original method, of each project path at full size, of its coarse stages
    "full": {"original": 200, "ours": 100, "coarse": ((0.25, 60), (0.5, 60))},  # RESULTS.md, section 6
    "quick": {"original": 40, "ours": 30, "coarse": ((0.5, 20),)},
    "tiny": {"original": 20, "ours": 6, "coarse": ((0.5, 4),)},
}
NEGLIGIBLE_LAYERS = ("block4_conv3", "block5_conv3")  # < 0.01 % of the post's loss (benchmarks/experiments/RESULTS.md)
RESULTS = REPO / "benchmarks" / "results"


# --- the original method ---------------------------------------------------------------


def shape_for(size: int) -> tuple[int, int]:
    """(height, width) of the benchmark at longest side `size`: the content photo's aspect kept."""
    return im.fit_size(*im.load_image(CONTENT).shape[:2], size)


def original_method(shape: tuple[int, int], evaluations: int, seed: int = 0):
    """The post's optimization loop in TF2. Returns (history, snapshots).

    history: [(evaluation, seconds, loss)]; snapshots: [(evaluation, seconds, image)].
    """
    content = tf.constant(im.preprocess(im.load_image(CONTENT, size=shape))[None])
    style = tf.constant(im.preprocess(im.load_image(STYLE, size=shape))[None])
    base = vgg16("float32")  # the whole convolutional base, as the post
    outputs = {layer.name: layer.output for layer in base.layers}
    model = tf.keras.Model(base.input, [outputs[n] for n in (CONTENT_LAYER, *STYLE_LAYERS)])
    pixels = shape[0] * shape[1]

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
    x = rng.uniform(0, 255, (1, *shape, 3)) - 128.0
    loss_and_grad(tf.constant(x, tf.float32))  # trace outside the timing
    history, snapshots, start = [], [(0, 0.0, x.astype(np.float32))], time.perf_counter()

    def f(flat):
        loss, grad = loss_and_grad(tf.constant(flat.reshape(1, *shape, 3), tf.float32))
        history.append((len(history) + 1, time.perf_counter() - start, float(loss)))
        return float(loss), np.asarray(grad, np.float64).ravel()

    flat = x.ravel()
    for _ in range(evaluations // 20):  # the post: for i in range(10): fmin_l_bfgs_b(..., maxfun=20)
        flat, _, _ = scipy.optimize.fmin_l_bfgs_b(f, flat, maxfun=20)
        snapshots.append((len(history), time.perf_counter() - start, flat.reshape(1, *shape, 3).astype(np.float32)))
    return history, snapshots


# --- this project's paths ------------------------------------------------------------


def variants(budget: dict, *, bfloat16: bool) -> dict:
    """This project's paths as Settings, by name (see the module docstring); "+bf16" only if `bfloat16`."""
    lbfgs = POST_SETTINGS.replace(iterations=budget["ours"], precision="float32")
    coarse = lbfgs.replace(precision="bfloat16" if bfloat16 else "float32", coarse_to_fine=budget["coarse"])
    cut = coarse.replace(style_layer_weights=tuple(0.0 if layer in NEGLIGIBLE_LAYERS else 1.0 / len(STYLE_LAYERS)
                                                   for layer in STYLE_LAYERS))
    runs = {"lbfgs": lbfgs, "+bf16": lbfgs.replace(precision="bfloat16"), "+coarse": coarse, "+cut": cut,
            "default": coarse.replace(init="content")}
    if not bfloat16:
        runs.pop("+bf16")
    return runs


def project_method(shape: tuple[int, int], settings: Settings, every: int):
    """stylize() with these settings (the post's loss); returns (history, snapshots, picture).

    history and snapshots as original_method's; picture: the uint8 RGB result (the best image).
    """
    snapshots, start = [], [None]

    def keep(progress):
        if start[0] is None:
            start[0] = time.perf_counter() - progress.record["seconds"]
        image = progress.preprocessed  # float32 tensor (1, H, W, 3) at this stage's size
        if tuple(image.shape[1:3]) == tuple(shape) and progress.evaluation % every == 0:
            snapshots.append((progress.evaluation, time.perf_counter() - start[0], np.array(image)))

    result = stylize(CONTENT, STYLE, size=shape, settings=settings, callback=keep, progress=False)
    history = [(h["evaluation"], h["seconds"], h["total"]) for h in result.history]
    return history, snapshots, result.image


# --- judging: the loss of the picture the user gets ------------------------------------


class Judge:
    """The post's loss in float32 at one size, of a float image as optimized (raw) and of
    the 8-bit picture a user gets (delivered, `StyleTransfer.delivered_loss`)."""

    def __init__(self, shape: tuple[int, int]):
        self.settings = POST_SETTINGS.replace(precision="float32")
        self.problem = get_problem(CONTENT, STYLE, size=shape, settings=self.settings)
        self.evaluate = self.problem.evaluator(self.settings)

    def raw(self, image) -> float:
        """Loss of a preprocessed float image (1, S, S, 3) exactly as it is."""
        return float(self.evaluate(tf.constant(image, tf.float32))[0])

    def delivered(self, image) -> float:
        """Loss of the 8-bit picture: a float image is deprocessed (clipped, rounded) first."""
        return self.problem.delivered_loss(image, settings=self.settings)

    def saved(self, picture: np.ndarray, path: Path) -> float:
        """Save a uint8 RGB picture as a PNG, reload it, and return its delivered loss."""
        reloaded = im.load_image(im.save_image(picture, path))  # float32 0..255, whole numbers: the 8 bits read
        return self.delivered(reloaded.astype(np.uint8))


def time_to_reach(points, target):
    """Seconds and evaluations of the first snapshot whose delivered loss is <= target, or None.

    points: [(evaluation, seconds, raw loss, delivered loss)].
    """
    for evaluation, seconds, _, delivered in points:
        if delivered <= target:
            return seconds, evaluation
    return None


def run_size(size: int, budget: dict, every: int, *, runs_settings: dict, pictures: Path) -> dict:
    shape = shape_for(size)
    print(f"\n=== {shape[0]} x {shape[1]} px ===", flush=True)
    judge = Judge(shape)
    runs = {}
    history, snapshots = original_method(shape, budget["original"])
    runs["original"] = {"history": history, "snapshots": snapshots, "picture": im.deprocess(snapshots[-1][2]),
                        "setting": "batch of 3, 10 x 20 restarts, float32, noise, unbounded"}
    print(f"original: {history[-1][2]:.4g} after {len(history)} evaluations, {history[-1][1]:.0f} s", flush=True)
    for name, v in runs_settings.items():
        history, snapshots, picture = project_method(shape, v, every=every)
        runs[name] = {"history": history, "snapshots": snapshots, "picture": picture,
                      "setting": {"precision": v.precision, "coarse": v.coarse_to_fine, "init": v.init}}
        print(f"{name}: {history[-1][2]:.4g} after {len(history)} evaluations, {history[-1][1]:.0f} s", flush=True)

    # Judge every run by the same float32 loss: raw and delivered on its snapshots, delivered on its saved picture.
    for name, run in runs.items():
        run["common"] = [(n, s, judge.raw(img), judge.delivered(img)) for n, s, img in run.pop("snapshots")]
        run["delivered"] = judge.saved(run.pop("picture"), pictures / f"{size}_{name.lstrip('+')}.png")
    target = runs["original"]["delivered"]
    # Correctness: the faithful port and this project's loss agree on the same noise image.
    agree = abs(runs["original"]["common"][0][2] / runs["original"]["history"][0][2] - 1)
    print(f"the two implementations of the post's loss agree to {agree:.1e} (relative)", flush=True)
    rows = {}
    base_spe = runs["original"]["history"][-1][1] / len(runs["original"]["history"])
    for name, run in runs.items():
        # seconds per evaluation at full size only (coarse stages are cheaper and excluded here)
        hist = run["history"]
        full = hist[-budget["ours"]:] if name in runs_settings and runs_settings[name].coarse_to_fine else hist
        spe = (full[-1][1] - full[0][1]) / max(1, len(full) - 1)
        reached = time_to_reach(run["common"], target)
        raw = run["common"][-1][2]
        rows[name] = {
            "seconds_per_evaluation": spe,
            "speedup_per_evaluation": base_spe / spe,
            "final_delivered_loss": run["delivered"],  # of the saved picture, reloaded
            "final_raw_loss": raw,  # of the last snapshot as optimized
            "delivered_over_raw": run["delivered"] / raw,
            "seconds_total": hist[-1][1],
            "seconds_to_original_final_loss": reached[0] if reached else None,
            "evaluations_to_original_final_loss": reached[1] if reached else None,
        }
    t0 = rows["original"]["seconds_to_original_final_loss"]
    for row in rows.values():
        t = row["seconds_to_original_final_loss"]
        row["speedup_to_original_final_loss"] = (t0 / t) if (t and t0) else None
    bf16_vs_f32 = (rows["+bf16"]["final_delivered_loss"] / rows["lbfgs"]["final_delivered_loss"] - 1
                   if "+bf16" in rows else None)
    return {"shape": list(shape), "target_loss": target, "loss_agreement": agree, "bf16_final_loss_vs_float32": bf16_vs_f32, "rows": rows,
            "curves": {k: {"history": v["history"], "common": v["common"]} for k, v in runs.items()}}


# --- the machine ------------------------------------------------------------------------


def onednn_isa() -> str:
    """oneDNN's own ISA line (e.g. "Intel AVX2") from a fresh process with this environment.

    A fresh process, because oneDNN prints it (ONEDNN_VERBOSE=1) at its first kernel and
    reads its ISA cap once: this one's kernels already ran, or must not be verbose.
    """
    code = ("import tensorflow as tf\nwith tf.device('/CPU:0'):  # on a GPU machine too: the CPU's oneDNN is asked\n"
            "    tf.nn.conv2d(tf.ones((1, 8, 8, 3)), tf.ones((3, 3, 3, 4)), 1, 'SAME').numpy()")
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    for line in done.stdout.splitlines():
        if ",isa:" in line:
            return line.split(",isa:", 1)[1].strip()
    return "unknown (oneDNN printed no ISA line)"


def emulation_problems(*, isa: str, precisions) -> list[str]:
    """Why an AVX2 emulation would not be faithful; empty if it is.

    isa: oneDNN's ISA line under the cap (`onednn_isa`): must be plain AVX2, no AVX-512
    or AMX. precisions: every run's precision: each must resolve to float32 (no bfloat16).
    """
    problems = []
    if not isa.startswith("Intel AVX2") or "512" in isa or "AMX" in isa:
        problems.append(f"oneDNN reports ISA {isa!r}, not AVX2: ONEDNN_MAX_CPU_ISA was not honoured")
    wrong = sorted({p for p in precisions if resolve_precision(p) != "float32"})
    if wrong:
        problems.append(f"precision {', '.join(wrong)} does not resolve to float32")
    return problems


def describe_machine(cpu: dict, *, isa: str, emulate: str | None) -> str:
    """One line for the table: the CPU class measured on (or emulated), cores, oneDNN's ISA, TF, precision."""
    gpus = tf.config.list_physical_devices("GPU")
    line = (f"{cpu['class']} CPU ({cpu['model']}), {cpu['cores']} cores usable, oneDNN ISA {isa}, "
            f"TensorFlow {tf.__version__}")
    if gpus:
        line += f", GPU {tf.config.experimental.get_device_details(gpus[0]).get('device_name', gpus[0].name)}"
    if emulate:
        return line + f"; EMULATING {emulate.upper()} (float32, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')})"
    return line + f", default precision {default_precision()}"


# --- output ---------------------------------------------------------------------------


# The real AVX2 machine of issue 11, quiet, float32, VGG16 to block5_conv3: what scales emulated seconds
REFERENCE_AVX2 = {"shape": (384, 512), "seconds_per_evaluation": 3.17,
                  "cpu": "a real 2-core AMD EPYC with AVX2+FMA and no AVX-512 (benchmarks/experiments/RESULTS.md)"}


def table(results: dict, machine: str, *, emulated: bool = False) -> str:
    """The results as a Markdown table, ratios against the original side by side."""
    lines = [f"Machine: {machine}", "",
             ("Losses are the post's loss (float32) of the saved 8-bit picture (delivered) and of the float image "
              "as optimized (raw)."), "",
             ("| size | method | s / evaluation | × faster per evaluation | final delivered loss | final raw loss | "
              "delivered / raw | s to original's final delivered loss | × sooner |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for size, res in results.items():
        for name, r in res["rows"].items():
            t = r["seconds_to_original_final_loss"]
            sp = r["speedup_to_original_final_loss"]
            lines.append(f"| {res['shape'][0]} x {res['shape'][1]} | {name} | {r['seconds_per_evaluation']:.3f} | {r['speedup_per_evaluation']:.1f} | "
                         f"{r['final_delivered_loss']:.4g} | {r['final_raw_loss']:.4g} | {r['delivered_over_raw']:.3f} | "
                         f"{'—' if t is None else f'{t:.1f}'} | {'—' if sp is None else f'{sp:.1f}'} |")
    lines.append("")
    for size, res in results.items():
        note = f"{size} px: the faithful port and helpers' loss agree to {res['loss_agreement']:.1e} (relative)"
        if res["bf16_final_loss_vs_float32"] is not None:
            note += f"; bfloat16's final delivered loss is {100 * res['bf16_final_loss_vs_float32']:+.1f} % against float32's"
        lines.append(f"- {note}.")
        if emulated and tuple(res["shape"]) == REFERENCE_AVX2["shape"]:
            factor = REFERENCE_AVX2["seconds_per_evaluation"] / res["rows"]["lbfgs"]["seconds_per_evaluation"]
            lines.append(f"- Emulated seconds are not a real AVX2 laptop's: {REFERENCE_AVX2['cpu']} took "
                         f"{REFERENCE_AVX2['seconds_per_evaluation']} s per evaluation at this size, {factor:.2f} x the "
                         f"emulation's {res['rows']['lbfgs']['seconds_per_evaluation']:.2f} s; scaled by it:")
            for name, r in res["rows"].items():
                t = r["seconds_to_original_final_loss"]
                lines.append(f"  {name}: {r['seconds_total'] * factor:.0f} s in all"
                             + ("" if t is None else f", {t * factor:.0f} s to the original's final picture"))
    return "\n".join(lines) + "\n"


def write_outputs(results: dict, machine: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table(results, machine["line"], emulated=bool(machine["emulate"])))
    (out / "results.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1) + "\n")

    fig, axes = plt.subplots(len(results), 2, figsize=(12, 4.5 * len(results)), squeeze=False)
    for row, (size, res) in zip(axes, results.items()):
        for name, curve in res["curves"].items():
            ev = [c[0] for c in curve["common"]]
            sec = [c[1] for c in curve["common"]]
            loss = [c[3] for c in curve["common"]]
            row[0].plot(ev, loss, "o-", ms=3, label=name)
            row[1].plot(sec, loss, "o-", ms=3, label=name)
        for ax, xlabel in zip(row, ["evaluations", "seconds"]):
            ax.axhline(res["target_loss"], color="grey", ls=":", lw=1, label="original's final picture")
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("post's loss of the 8-bit picture")
            ax.set_title(f"{res['shape'][0]} x {res['shape'][1]} px ({machine['cpu']['class'] if not machine['emulate'] else 'emulated ' + machine['emulate']})")
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "losses.png", dpi=80)
    print((out / "table.md").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets (under 3 min on 2 cores)")
    parser.add_argument("--tiny", action="store_true", help="64 px and a few evaluations: a smoke test, not a measurement")
    parser.add_argument("--sizes", type=int, nargs="*",
                        help="longest sides in px, the content's aspect kept (default 512; quick: 128 192; tiny: 64)")
    parser.add_argument("--emulate", choices=sorted(EMULATIONS),
                        help="behave like a CPU of this class: float32 and oneDNN capped (checked, else exit 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for table.md, results.json, losses.png")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = args.sizes or {"full": [512], "quick": [128, 192], "tiny": [64]}[mode]
    budget = BUDGETS[mode]
    every = 2 if args.tiny else 5
    if args.emulate and any(os.environ.get(k) != v for k, v in EMULATIONS[args.emulate].items()):
        print(f"error: --emulate {args.emulate} must be given on the command line (its settings are made before "
              "TensorFlow starts)", file=sys.stderr)
        return 2
    cpu, isa = cpu_class(), onednn_isa()
    bfloat16 = default_precision() == "bfloat16" and not args.emulate
    runs_settings = variants(budget, bfloat16=bfloat16)
    machine = {"cpu": cpu, "onednn_isa": isa, "tensorflow": tf.__version__, "default_precision": default_precision(),
               "emulate": args.emulate, "line": describe_machine(cpu, isa=isa, emulate=args.emulate)}
    if args.emulate:
        precisions = ["float32"] + [v.precision for v in runs_settings.values()]  # the original runs in float32
        problems = emulation_problems(isa=isa, precisions=precisions)
        machine["emulation"] = {"settings": EMULATIONS[args.emulate], "precisions": sorted(set(precisions)),
                                "faithful": not problems}
        if problems:
            print(f"error: the {args.emulate} emulation is not faithful: {'; '.join(problems)}", file=sys.stderr)
            return 1
    print(machine["line"], flush=True)
    # One BLAS thread for SciPy's bookkeeping in every method (as helpers.optimize does), so the
    # comparison measures the methods, not OpenBLAS fighting TensorFlow for the two cores.
    with threadpool_limits(limits=1, user_api="blas"):
        results = {size: run_size(size, budget, every, runs_settings=runs_settings, pictures=args.out / "pictures")
                   for size in sizes}
    write_outputs(results, machine, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
