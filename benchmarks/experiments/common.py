"""Shared pieces of the issue-11 experiments (wave 1): the problems, the delivered loss,
and the optimizer variants, all on today's API (helpers.optimize.StyleTransfer).

"Delivered" = what the user gets: deprocess -> clip 0..255 -> round to 8 bits -> preprocess.
Every variant counts loss evaluations (VGG16 forward+backward) exactly, so loss after n
evaluations does not depend on machine load. Seconds are kept apart: `vgg_s` (time inside the
TF loss) and `overhead_s` (everything else: SciPy's L-BFGS(-B) bookkeeping, conversions).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import scipy.optimize
import tensorflow as tf
from threadpoolctl import threadpool_limits

from helpers import images as im
from helpers.optimize import DEFAULT_WEIGHTS, StyleTransfer

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
WAVE = REPO / "images" / "styles" / "great_wave.jpg"
STARRY = REPO / "images" / "styles" / "starry_night.jpg"
OUT = REPO / "benchmarks" / "experiments" / "out"
LOW = -im.IMAGENET_BGR_MEANS.astype(np.float64)          # preprocessed value of 0 per (BGR) channel
HIGH = 255.0 - im.IMAGENET_BGR_MEANS.astype(np.float64)  # ... of 255
FIRST_STEP_RMS = 10.0

POST = ("original", DEFAULT_WEIGHTS["original"])   # content 0.025, style 5, tv 1
GATYS = ("gatys", DEFAULT_WEIGHTS["gatys"])        # content 1, style 3e4, tv 1


def delivered(x: np.ndarray) -> np.ndarray:
    """The preprocessed image of the saved 8-bit picture of x (1, H, W, 3)."""
    return im.preprocess(im.deprocess(np.asarray(x, np.float32)))[None]


class Counter:
    """Wraps a StyleTransfer loss as float64 flat x -> (loss, grad) for SciPy, counting
    evaluations, keeping the best raw x and stopping exactly at `budget`."""

    class Spent(Exception):
        pass

    def __init__(self, evaluate, shape, budget, checkpoints=()):
        self.evaluate, self.shape, self.budget = evaluate, shape, budget
        self.losses, self.vgg_s, self.best, self.best_x = [], 0.0, np.inf, None
        self.checkpoints, self.delivered = set(checkpoints), {}  # n -> delivered loss of the best x so far
        self.start = time.perf_counter()

    def __call__(self, x):
        if len(self.losses) >= self.budget:
            raise Counter.Spent
        t = time.perf_counter()
        total, grad, _ = self.evaluate(tf.constant(np.asarray(x, np.float32).reshape(self.shape)))
        loss = float(total)
        g = np.asarray(grad, np.float64).ravel()
        self.vgg_s += time.perf_counter() - t
        self.losses.append(loss)
        if loss < self.best:
            self.best, self.best_x = loss, np.asarray(x, np.float32).reshape(self.shape).copy()
        if self.n in self.checkpoints:  # not counted, not timed
            t = time.perf_counter()
            self.delivered[self.n] = (self.best, float(self.evaluate(tf.constant(delivered(self.best_x)))[0]),
                                      out_of_range(self.best_x))
            self.start += time.perf_counter() - t
        return loss, g

    @property
    def n(self):
        return len(self.losses)

    def seconds(self):
        return time.perf_counter() - self.start


def bounds_for(shape, scale=1.0):
    lo = np.broadcast_to(LOW, shape).ravel() / scale
    hi = np.broadcast_to(HIGH, shape).ravel() / scale
    return scipy.optimize.Bounds(lo, hi)


def lbfgs(f, x0, budget, bounded=False, scale=None, maxcor=10):
    """Today's continuous L-BFGS(-B) on x / scale (first step ~FIRST_STEP_RMS grey levels).
    f counts evaluations itself; we stop when it raises Counter.Spent."""
    scale = scale or FIRST_STEP_RMS * np.sqrt(x0.size)

    def scaled(z):
        loss, grad = f(z * scale)
        return loss, grad * scale

    z0 = x0.ravel().astype(np.float64) / scale
    kw = dict(jac=True, method="L-BFGS-B",
              options={"maxfun": budget + 5, "maxiter": budget + 5, "ftol": 0.0, "gtol": 0.0, "maxcor": maxcor})
    if bounded:
        kw["bounds"] = bounds_for(x0.shape, scale)
        z0 = np.clip(z0, kw["bounds"].lb, kw["bounds"].ub)
    try:
        res = scipy.optimize.minimize(scaled, z0, **kw)
        return (res.x * scale).reshape(x0.shape)
    except Counter.Spent:
        return None


def run_variant(name, evaluate, x0, budget, checkpoints=(), **kw):
    """One optimizer variant; returns the Counter (raw losses, best raw x, delivered at checkpoints)."""
    shape = x0.shape
    c = Counter(evaluate, shape, budget, checkpoints if name in ("unbounded", "bounded", "tanh", "penalty") else ())
    mid, half = (LOW + HIGH) / 2, (HIGH - LOW) / 2
    with threadpool_limits(limits=1, user_api="blas"):
        if name == "unbounded":
            lbfgs(c, x0, budget)
        elif name == "bounded":
            lbfgs(c, x0, budget, bounded=True)
        elif name == "polish":  # unbounded, then clip and a bounded L-BFGS-B for the last `polish` evals
            m = kw.get("polish", 20)
            sub = Counter(evaluate, shape, budget - m)
            lbfgs(sub, x0, budget - m)
            c.losses, c.vgg_s, c.best, c.best_x = sub.losses, sub.vgg_s, sub.best, sub.best_x
            x1 = np.clip(sub.best_x, LOW, HIGH)
            c.best = np.inf  # the clipped start is the new reference
            lbfgs(c, x1, budget, bounded=True)
        elif name == "cliprestart":  # unbounded chunks, projected (clipped) in between
            k = kw.get("chunk", 50)
            x = x0
            while c.n < budget:
                sub = Counter(evaluate, shape, min(k, budget - c.n))
                lbfgs(sub, x, sub.budget)
                c.losses += sub.losses
                c.vgg_s += sub.vgg_s
                c.best = min(c.best, sub.best)
                x = np.clip(sub.best_x, LOW, HIGH)
            c.best_x = x
        elif name == "tanh":  # x = mid + half * tanh(z): always in range
            x0c = np.clip(x0, LOW + 0.5, HIGH - 0.5)
            z0 = np.arctanh((x0c - mid) / half)

            def fz(z):
                t = np.tanh(z.reshape(shape))
                loss, g = c(mid + half * t)
                return loss, (g.reshape(shape) * half * (1 - t * t)).ravel()

            lbfgs(fz, z0, budget, scale=FIRST_STEP_RMS / half.mean() * np.sqrt(x0.size))
        elif name == "penalty":  # quadratic outside [0, 255], weight relative to the loss scale
            w = kw["weight"]

            def fp(x):
                loss, g = c(x)
                x = x.reshape(shape)
                over, under = np.maximum(x - HIGH, 0), np.minimum(x - LOW, 0)
                p = float(np.sum(over**2) + np.sum(under**2))
                return loss + w * p, g + (2 * w * (over + under)).ravel()

            lbfgs(fp, x0, budget)
        else:
            raise ValueError(name)
    return c


def delivered_loss(evaluate, x):
    return float(evaluate(tf.constant(delivered(x)))[0])


def out_of_range(x):
    x = np.asarray(x)
    return float(np.mean((x < LOW - 0.5) | (x > HIGH + 0.5)))
