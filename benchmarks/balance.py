"""Research for issue #12: do the weights mean the same at every size, and does every style layer count?

    python benchmarks/balance.py --size 256 --starts      # one evaluation at three starts, today's weights
    python benchmarks/balance.py --size 256 --evaluations 30
    python benchmarks/balance.py --size 512 --evaluations 20 --configs today,ab

Stylizes Tübingen as The Great Wave (float32, from the content image, L-BFGS, no coarse
stage) with each weighting below, and writes per configuration the weighted loss parts at
the start and after every evaluation to benchmarks/results/balance_<size>.json, and the
pictures to --pictures (default /tmp). Loss values after a fixed number of evaluations do
not depend on the machine's load; the seconds do (not used).

Weightings (P = the result's pixel count, REFERENCE_PIXELS = 512 * 384):
  today: content 1, style 3e4, TV 1, equal layer weights 1/L (helpers.optimize's defaults)
  a:     content and TV multiplied by REFERENCE_PIXELS / P (both losses are sums over pixels)
  ab:    a, plus per-layer weights w_l = 4 N_l^2 M_l^2 / (L ||A_l||^2), so each layer's loss is
         its relative Gram error ||G_l - A_l||^2 / ||A_l||^2 / L; style weight STYLE_AB
  ab_weak, ab_strong: ab with the style weight / 10 and x 10 (strength 0 and 1)
This uses today's API (helpers.optimize.StyleTransfer); it is research, not the engine.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import tensorflow as tf

from helpers import images as im
from helpers.optimize import StyleTransfer

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "images" / "content" / "tuebingen.jpg"
STYLE = REPO / "images" / "styles" / "great_wave.jpg"
REFERENCE_PIXELS = 512 * 384  # a 4:3 photo (phones' default, and Tübingen) at the default 512 px
STYLE_AB = 1e13  # today's starting style/content balance at 512 px, for relative Gram errors (see the report)


def relative_layer_weights(problem: StyleTransfer) -> dict:
    """w_l = 4 N^2 M^2 / (L ||A_l||^2): the "gatys" layer loss times w_l is ||G - A||^2 / ||A||^2 / L."""
    count = len(problem.style_layers)
    return {layer: 4.0 * float(a.shape[0]) ** 2 * problem._positions(layer) ** 2
            / (count * float(tf.reduce_sum(tf.square(a))))
            for layer, a in problem.style_targets.items()}


def configurations(problem: StyleTransfer) -> dict:
    k = REFERENCE_PIXELS / (problem.shape[0] * problem.shape[1])
    layers = relative_layer_weights(problem)
    ab = {"content": k, "style": STYLE_AB, "tv": k, "style_layers": layers}
    return {
        "today": {"content": 1.0, "style": 3e4, "tv": 1.0},
        "a": {"content": k, "style": 3e4, "tv": k},
        "ab": ab,
        "ab_weak": {**ab, "style": STYLE_AB / 10},
        "ab_strong": {**ab, "style": STYLE_AB * 10},
    }


def starts(problem: StyleTransfer) -> dict:
    """Today's weighted parts at the noise, content and style starts, and each layer's
    ||A_l||^2 / (N^2 M^2) (the target's magnitude in the "gatys" normalization)."""
    evaluate = problem.loss_function(configurations(problem)["today"], "gatys")
    out = {"shape": problem.shape}
    for init in ("noise", "content", "style"):
        out[init] = {k: float(v) for k, v in evaluate(tf.constant(problem.initial_image(init)))[2].items()}
    out["gram_magnitude"] = {layer: float(tf.reduce_sum(tf.square(a))) / (float(a.shape[0]) ** 2
                                                                          * problem._positions(layer) ** 2)
                             for layer, a in problem.style_targets.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--evaluations", type=int, default=30)
    parser.add_argument("--configs", default="today,a,ab,ab_weak,ab_strong")
    parser.add_argument("--pictures", type=Path, default=Path("/tmp"))
    parser.add_argument("--starts", action="store_true", help="only the start measurements (balance_start_<size>.json)")
    args = parser.parse_args()
    problem = StyleTransfer(CONTENT, STYLE, size=args.size, precision="float32")
    if args.starts:
        path = REPO / "benchmarks" / "results" / f"balance_start_{args.size}.json"
        path.write_text(json.dumps(starts(problem), indent=1))
        return
    configs = configurations(problem)
    out_path = REPO / "benchmarks" / "results" / f"balance_{args.size}.json"
    out = json.loads(out_path.read_text()) if out_path.exists() else {}
    out["shape"] = problem.shape
    out["relative_layer_weights"] = relative_layer_weights(problem)
    for name in args.configs.split(","):
        weights = configs[name]
        evaluate = problem.loss_function(weights, "gatys")
        start = {k: float(v) for k, v in evaluate(tf.constant(problem.initial_image("content")))[2].items()}
        result = problem.run(args.evaluations, weights=weights, init="content", progress=False)
        history = [{k: v for k, v in h.items() if k != "seconds"} for h in result.history]
        out[name] = {"weights": {k: v for k, v in weights.items() if k != "style_layers"},
                     "start": start, "history": history}
        im.save_image(result.image, args.pictures / f"balance_{args.size}_{name}.png")
        last = history[-1]
        style = sum(v for k, v in last.items() if k.startswith("style/"))
        print(f"{args.size} px {name}: style / content = {style / last['content']:.3g}", flush=True)
        out_path.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
