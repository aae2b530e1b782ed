"""Wave 4: the post's objective from noise, 384 x 512, per-stage plans (emulate AVX2 with ONEDNN_MAX_CPU_ISA=AVX2).

    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/experiments/wave4.py --plan "0.25:60:b,0.5:40:b,1:100"

A stage is scale:evaluations[:flags]; flags: b = content and TV weights x (final px / stage px)
(the final objective's balance at the stage's size), 2 = style only to block2_conv2 (VGG16 cut
after block2_conv2). The last stage always optimizes the judged objective (block4/5 at weight 0).
Prints the optimization seconds at which the full-size loss first reaches the target (1.686e10,
the post's method's delivered loss) and the final picture's delivered loss.
"""
import argparse
import json
import time

import numpy as np

from benchmarks.benchmark import CONTENT, POST_SETTINGS, STYLE, Judge
from helpers import images as im
from helpers.optimizers import run
from helpers.problem import get_problem
from helpers.settings import STYLE_LAYERS

TARGET = 1.686e10
p = argparse.ArgumentParser()
p.add_argument("--plan", required=True)
p.add_argument("--shape", default="384,512")
p.add_argument("--target", type=float, default=TARGET)
a = p.parse_args()
final = tuple(int(s) for s in a.shape.split(","))
base = POST_SETTINGS.replace(precision="float32")
cut = tuple(0.0 if layer in ("block4_conv3", "block5_conv3") else 0.2 for layer in STYLE_LAYERS)
b2 = tuple(0.0 if layer not in ("block1_conv2", "block2_conv2") else 0.2 for layer in STYLE_LAYERS)
judge = Judge(final)
image, elapsed, reached, rows = None, 0.0, None, []
for spec in a.plan.split(","):
    parts = spec.split(":")
    scale, n, flags = float(parts[0]), int(parts[1]), (parts[2] if len(parts) > 2 else "")
    shape = tuple(round(s * scale) for s in final)
    ratio = (final[0] * final[1]) / (shape[0] * shape[1])
    s = base.replace(iterations=n, style_layer_weights=b2 if "2" in flags else cut)
    if "b" in flags:
        s = s.replace(content_weight=0.025 * ratio, tv_weight=1.0 * ratio)
    problem = get_problem(CONTENT, STYLE, size=shape, settings=s)
    judged = shape == final and "2" not in flags
    offset = elapsed

    def watch(progress, offset=offset, judged=judged):
        global reached
        if judged and reached is None and progress.loss <= a.target:
            reached = (offset + progress.record["seconds"], progress.evaluation)

    t = time.perf_counter()
    result = run(problem, s, start=image, callback=watch, progress=False)
    elapsed += result.seconds
    image = result.image
    rows.append({"stage": spec, "shape": shape, "s": round(result.seconds, 1), "s_per_eval": round(result.seconds / n, 3),
                 "wall": round(time.perf_counter() - t, 1), "stage_loss": result.history[-1]["total"]})
    print(rows[-1], flush=True)
if image.shape[:2] != final:
    image = np.clip(np.round(im.resize(image, final)), 0, 255).astype(np.uint8)
d = judge.delivered(image)
print(json.dumps({"plan": a.plan, "delivered": d, "seconds": round(elapsed, 1), "reached": reached, "stages": rows}))
