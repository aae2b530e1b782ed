"""Seconds per evaluation that SciPy's L-BFGS-B itself costs, bounded vs unbounded, at the
number of variables of a 256 px and a 512 px image (aspect 3:4), with a cheap function
(a convex quadratic whose minimum lies partly outside the box, so bounds are active).
Interleaved A, B, A, B; min of each. One BLAS thread, as helpers.optimize uses.

    python benchmarks/experiments/lbfgsb_overhead.py
"""
import json
import time

import numpy as np
import scipy.optimize
from threadpoolctl import threadpool_limits

rows = []
with threadpool_limits(limits=1, user_api="blas"):
    for shape in ((192, 256, 3), (384, 512, 3)):
        n = int(np.prod(shape))
        rng = np.random.default_rng(0)
        d = rng.uniform(0.1, 10.0, n)
        target = rng.uniform(-180, 180, n)  # ~30 % outside [-128, 128]

        def f(x):
            r = x - target
            return 0.5 * float(np.sum(d * r * r)), d * r

        times = {"unbounded": [], "bounded": []}
        for rep in range(3):
            for name in times:
                kw = {"bounds": scipy.optimize.Bounds(-128 * np.ones(n), 128 * np.ones(n))} if name == "bounded" else {}
                calls = [0]

                def g(x):
                    calls[0] += 1
                    return f(x)

                t = time.perf_counter()
                scipy.optimize.minimize(g, np.zeros(n), jac=True, method="L-BFGS-B",
                                        options={"maxfun": 30, "maxiter": 30, "ftol": 0, "gtol": 0}, **kw)
                el = time.perf_counter() - t
                t = time.perf_counter()
                for _ in range(calls[0]):
                    f(np.zeros(n))
                fcost = time.perf_counter() - t
                times[name].append((el - fcost) / calls[0])
        row = {"shape": shape, **{k: min(v) for k, v in times.items()}}
        print(json.dumps(row), flush=True)
