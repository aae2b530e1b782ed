"""Interleave settings of speed.py: for each round, run every setting once (own process, so
environment variables such as TF_ENABLE_ONEDNN_OPTS take effect), then report per setting the
min over rounds and its ratio to the first setting. The machine is shared: absolute seconds are
under load; ratios of mins are what to read.

    python benchmarks/experiments/speed_ab.py --rounds 2 --size 256 \
        "base::" "xla::--jit" "nodnn:TF_ENABLE_ONEDNN_OPTS=0:"
Each setting is name:ENV=V,ENV=V:speed.py args.
"""
import argparse
import json
import os
import subprocess
import sys

p = argparse.ArgumentParser()
p.add_argument("--rounds", type=int, default=2)
p.add_argument("--size", type=int, default=256)
p.add_argument("--repeats", type=int, default=4)
p.add_argument("--out", default="benchmarks/experiments/out/speed.jsonl")
p.add_argument("settings", nargs="+")
a = p.parse_args()
best = {}
for r in range(a.rounds):
    for s in a.settings:
        name, env, extra = s.split(":", 2)
        e = dict(os.environ)
        e.update(kv.split("=", 1) for kv in env.split(",") if kv)
        cmd = [sys.executable, "benchmarks/experiments/speed.py", "--size", str(a.size), "--repeats", str(a.repeats)] + extra.split()
        out = subprocess.run(cmd, env=e, capture_output=True, text=True)
        line = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if not line:
            print(name, "FAILED", out.stderr[-2000:], flush=True)
            continue
        row = json.loads(line[-1])
        row["name"], row["round"] = name, r
        print(json.dumps(row), flush=True)
        with open(a.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        for k in ("fwdbwd_min", "fwd_min", "fwdbwd_cpu_min"):
            if k in row:
                best.setdefault(name, {})[k] = min(best.get(name, {}).get(k, 1e9), row[k])
base = best[a.settings[0].split(":")[0]]["fwdbwd_min"]
for name, b in best.items():
    print(f"{name:12s} fwd+bwd {b['fwdbwd_min']:.3f} s ({b['fwdbwd_min'] / base:.2f}x)" +
          (f", fwd {b['fwd_min']:.3f} s" if "fwd_min" in b else "") +
          (f", CPU s {b['fwdbwd_cpu_min']:.3f} ({b['fwdbwd_cpu_min'] / best[a.settings[0].split(':')[0]]['fwdbwd_cpu_min']:.2f}x)"
           if "fwdbwd_cpu_min" in b else ""))
