"""Weighted loss parts at the start (and at a given image) for both objectives at one size:
which layers matter? A layer whose weighted style loss is < 1 % of the total all along could
be dropped (the network then stops at the deepest layer that matters).

    python benchmarks/experiments/parts.py --size 256 [--image out/some.png]
"""
import argparse

import tensorflow as tf

from benchmarks.experiments.common import CONTENT, GATYS, POST, STARRY, WAVE, StyleTransfer
from helpers import images as im

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=256)
p.add_argument("--image", action="append", default=[])
a = p.parse_args()
problem = StyleTransfer(CONTENT, WAVE, size=a.size, precision="float32")
cases = [("original/noise", POST, problem.initial_image("noise", 0)),
         ("gatys/content", GATYS, problem.initial_image("content"))]
for path in a.image:
    for label, obj in (("original", POST), ("gatys", GATYS)):
        cases.append((f"{label}/{path}", obj, im.preprocess(im.load_image(path, size=problem.shape))[None]))
for label, (norm, w), x in cases:
    total, _, parts = problem.loss_function(w, norm)(tf.constant(x))
    total = float(total)
    print(f"{label}: total {total:.4g}; " + ", ".join(f"{k.replace('style/', '')} {100 * float(v) / total:.2f} %"
                                                    for k, v in parts.items()))
