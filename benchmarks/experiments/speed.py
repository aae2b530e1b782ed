"""Seconds per loss evaluation on this CPU, for one setting (run once per setting, interleaved
by speed_ab.py: A, B, A, B, ... and take the min of each, since the machine is shared).

    python benchmarks/experiments/speed.py --size 256 --jit --norm gatys --repeats 5

Prints one JSON line: min and median seconds of fwd+bwd (what L-BFGS pays), and of the forward
pass alone, plus the cut (deepest layer) used.
"""
import argparse
import json
import os
import time

import numpy as np
import tensorflow as tf

from benchmarks.experiments.common import CONTENT, GATYS, POST, STARRY, WAVE, StyleTransfer
from helpers.losses import total_loss
from helpers.model import CONTENT_LAYER, STYLE_LAYERS

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=256)
p.add_argument("--norm", default="gatys")
p.add_argument("--jit", action="store_true")
p.add_argument("--layers", default=",".join(STYLE_LAYERS))
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--intra", type=int, default=0)
p.add_argument("--inter", type=int, default=0)
p.add_argument("--precision", default="float32")
p.add_argument("--forward", action="store_true", help="also time the forward pass alone")
args = p.parse_args()
if args.intra:
    tf.config.threading.set_intra_op_parallelism_threads(args.intra)
if args.inter:
    tf.config.threading.set_inter_op_parallelism_threads(args.inter)
norm, weights = GATYS if args.norm == "gatys" else POST
problem = StyleTransfer(CONTENT, WAVE, size=args.size, style_layers=args.layers.split(","), precision=args.precision)
w = {**weights, "style_layers": None}


@tf.function(jit_compile=args.jit)
def fwdbwd(image):
    with tf.GradientTape() as tape:
        tape.watch(image)
        total, parts = total_loss(image, problem.extractor(image), problem.content_target, problem.style_targets,
                                  w, norm)
    return total, tape.gradient(total, image)


@tf.function(jit_compile=args.jit)
def fwd(image):
    return problem.extractor(image)


x = tf.constant(problem.initial_image("noise", 0))


def timeit(fn):
    fn(x)
    ts, cpu = [], []
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn(x)
        np.asarray(out[0] if isinstance(out, tuple) else list(out.values())[0])
        ts.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    timeit.cpu = cpu  # CPU seconds (all threads): far less sensitive to other processes than wall time
    return ts


row = {"size": args.size, "shape": problem.shape, "jit": args.jit, "layers": args.layers, "intra": args.intra,
       "inter": args.inter, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
       "isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"), "precision": args.precision}
ts = timeit(fwdbwd)
row.update(fwdbwd_min=min(ts), fwdbwd_med=float(np.median(ts)), fwdbwd_cpu_min=min(timeit.cpu))
if args.forward:
    ts = timeit(fwd)
    row.update(fwd_min=min(ts), fwd_med=float(np.median(ts)))
print(json.dumps(row), flush=True)
