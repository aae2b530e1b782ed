"""Question 1: raw vs delivered loss, and the drift fixes, on the post's objective.

    python benchmarks/experiments/drift.py --size 256 --budget 200 unbounded bounded tanh ...

Post's objective (normalization "original", content 0.025, style 5, tv 1), Tübingen x Great
Wave, aspect kept, uniform-noise start seed 0. Prints one JSON line per variant (appended to
out/drift_<size>.jsonl): raw best loss and delivered loss at checkpoints, fraction of pixels
out of range, seconds inside VGG vs outside (overhead per evaluation).
"""
import argparse
import json
import sys

import numpy as np

from benchmarks.experiments.common import OUT, POST, CONTENT, WAVE, StyleTransfer, delivered_loss, out_of_range, run_variant
from helpers import images as im

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=256)
p.add_argument("--budget", type=int, default=200)
p.add_argument("--precision", default="float32")
p.add_argument("--save", action="store_true")
p.add_argument("variants", nargs="+")  # name or name:key=value
args = p.parse_args()
norm, weights = POST
problem = StyleTransfer(CONTENT, WAVE, size=args.size, precision=args.precision)
evaluate = problem.loss_function(weights, norm)
x0 = problem.initial_image("noise", 0)
evaluate(__import__("tensorflow").constant(x0))
OUT.mkdir(parents=True, exist_ok=True)
checkpoints = sorted({c for c in (25, 50, 100, 150, 200, 300, 400) if c <= args.budget} | {args.budget})
for spec in args.variants:
    name, *opts = spec.split(":")
    kw = {k: float(v) for k, v in (o.split("=") for o in opts)}
    if "polish" in kw: kw["polish"] = int(kw["polish"])
    if "chunk" in kw: kw["chunk"] = int(kw["chunk"])
    c = run_variant(name, evaluate, x0, args.budget, checkpoints=checkpoints, **kw)
    secs = c.seconds()
    row = {"size": args.size, "shape": problem.shape, "variant": spec, "evaluations": c.n, "raw_best": c.best,
           "delivered": delivered_loss(evaluate, c.best_x), "out_of_range": out_of_range(c.best_x),
           "checkpoints": c.delivered, "vgg_s_per_eval": c.vgg_s / c.n, "overhead_s_per_eval": (secs - c.vgg_s) / c.n}
    print(json.dumps(row), flush=True)
    with open(OUT / f"drift_{args.size}.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    if args.save:
        im.save_image(im.deprocess(c.best_x), OUT / f"drift_{args.size}_{spec.replace(':', '_').replace('=', '')}.png")
