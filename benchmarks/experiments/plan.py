"""Question 2: coarse-to-fine plans, judged by the DELIVERED loss at full size.

    python benchmarks/experiments/plan.py --size 256 --objective post --init noise \
        --stages 0.25:80,0.5:40,1:20 --fix bounded

Each stage is (scale of the final shape, evaluations). Content and TV weights are scaled by the
pixel ratio at each stage (as helpers.optimize.stylize does); each later stage starts from the
previous stage's saved 8-bit picture, resized. Prints one JSON line (appended to
out/plan_<size>.jsonl) with the delivered loss of the final picture under the full-size
objective, the evaluations per stage and seconds per evaluation per stage (under the load of the
moment: convert with quiet per-evaluation costs, see RESULTS.md), and saves the PNG.
"""
import argparse
import json
import time

import numpy as np
import tensorflow as tf

from benchmarks.experiments.common import (CONTENT, GATYS, OUT, POST, STARRY, WAVE, StyleTransfer, delivered_loss,
                                           run_variant)
from helpers import images as im

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=256)
p.add_argument("--objective", choices=("post", "gatys"), default="post")
p.add_argument("--style", choices=("wave", "starry"), default="wave")
p.add_argument("--init", default="noise")
p.add_argument("--stages", default="1:100")
p.add_argument("--fix", default="bounded")
p.add_argument("--layers", default=None, help="style layers to optimize with (judged with all five)")
a = p.parse_args()
norm, weights = POST if a.objective == "post" else GATYS
style = WAVE if a.style == "wave" else STARRY
stages = [(float(s), int(n)) for s, n in (x.split(":") for x in a.stages.split(","))]
full = StyleTransfer(CONTENT, style, size=a.size, precision="float32")
judge = full.loss_function(weights, norm)
layers = a.layers.split(",") if a.layers else None
start, rows, picture = a.init, [], None
t0 = time.perf_counter()
for scale, n in stages:
    shape = tuple(round(s * scale) for s in full.shape)
    kw = {"style_layers": layers} if layers else {}
    problem = StyleTransfer(CONTENT, style, size=shape, precision="float32", **kw)
    ratio = 1.0 / scale**2
    w = {**weights, "content": weights["content"] * ratio, "tv": weights["tv"] * ratio}
    if layers:  # keep each kept layer's weight at 1/5 (the default divides by the number of layers given)
        w["style_layers"] = {layer: 1.0 / 5 for layer in layers}
    evaluate = problem.loss_function(w, norm)
    x0 = problem.initial_image(start if picture is None else picture, 0)
    evaluate(tf.constant(x0))
    c = run_variant(a.fix, evaluate, x0, n)
    secs = c.seconds()
    picture = im.deprocess(c.best_x)
    rows.append({"shape": shape, "evaluations": c.n, "s_per_eval": secs / c.n, "vgg_s_per_eval": c.vgg_s / c.n,
                 "raw_best": c.best})
if picture.shape[:2] != full.shape:
    picture = im.resize(picture, full.shape).astype(np.uint8)
final = float(judge(tf.constant(im.preprocess(picture)[None]))[0])
tag = f"{a.objective}_{a.style}_{a.init}_{a.fix}_{a.stages.replace(':', 'x').replace(',', '-')}" + (f"_{len(layers)}layers" if layers else "")
im.save_image(picture, OUT / f"plan_{a.size}_{tag}.png")
row = {"size": a.size, "objective": a.objective, "style": a.style, "init": a.init, "fix": a.fix, "stages": a.stages,
       "layers": a.layers, "delivered": final, "per_stage": rows, "wall_s_under_load": time.perf_counter() - t0}
print(json.dumps(row), flush=True)
with open(OUT / f"plan_{a.size}.jsonl", "a") as f:
    f.write(json.dumps(row) + "\n")
