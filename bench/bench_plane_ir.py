"""Exact 2-D slices of residual and max-pool nets: regionlab against regioncam, one run.

    python bench/bench_plane_ir.py

regionlab converts the torch model by tracing it (residual skips become identity units,
the max becomes a max group); regioncam is given the same layers in its own terms
(`regioncam.nn.Residual`, `Regioncam.max_pool`, which pools over the whole layer). Every
measurement runs in its own process and reports its peak resident memory; cases under 2 s
report the best of 3 runs, for both tools. Nets use PyTorch's default init,
torch.manual_seed(0), sliced over [-1, 1]^2.

- residual w x B: 2 -> w (ReLU), then B blocks h = relu(h + Linear(relu(Linear(h)))), -> 1.
- max-pool w: 2 -> w -> w (ReLU each) -> Linear(w, w/2) -> max over its units.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import machine, peak_rss_mb, run_worker  # noqa: E402
from bench_plane import best_of  # noqa: E402

CASES = {
    "residual 64 x 3": ("residual", 64, 3),
    "residual 128 x 2": ("residual", 128, 2),
    "residual 128 x 4": ("residual", 128, 4),
    "max-pool 128": ("maxpool", 128, 0),
    "max-pool 256": ("maxpool", 256, 0),
}


def build(kind: str, width: int, blocks: int):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "residual":
        inp = nn.Sequential(nn.Linear(2, width), nn.ReLU())
        body = [nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks)]
        out = nn.Linear(width, 1)

        class Residual(nn.Module):
            def __init__(self):
                super().__init__()
                self.inp, self.body, self.out = inp, nn.ModuleList(body), out

            def forward(self, x):
                h = self.inp(x)
                for blk in self.body:
                    h = torch.relu(h + blk(h))
                return self.out(h)

        return Residual().eval(), (inp, body, out)
    head = nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, width // 2))

    class MaxPool(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = head

        def forward(self, x):
            return self.head(x).amax(-1, keepdim=True)

    return MaxPool().eval(), head


def worker_regionlab(name: str) -> dict:
    import regionlab as rl

    model, _ = build(*CASES[name])
    net = rl.from_torch(model)
    p, seconds = best_of(lambda: rl.plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], extent=(-1, 1, -1, 1)))
    return {"seconds": seconds, "regions": p.n_regions, "tiny": int((p.areas < 1e-10).sum()),
            "peak_rss_mb": peak_rss_mb()}


def worker_regioncam(name: str, limit_gb: float) -> dict:
    import regioncam

    limit = int(limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    kind = CASES[name][0]
    _, parts = build(*CASES[name])
    C = regioncam.nn.convert

    def run():
        cam = regioncam.Regioncam(size=1)
        if kind == "residual":
            inp, body, out = parts
            layers = [C(inp)]
            for blk in body:
                layers += [regioncam.nn.Residual(C(blk)), regioncam.nn.ReLU()]
            cam.add(layers + [C(out)])
        else:
            cam.add(C(parts))
            cam.max_pool()
        return cam

    cam, seconds = best_of(run)
    return {"seconds": seconds, "regions": cam.num_faces, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regioncam-limit-gb", type=float, default=16.0)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        fn = worker_regionlab if args.worker == "regionlab" else (
            lambda n: worker_regioncam(n, args.regioncam_limit_gb))
        print(json.dumps(fn(args.case)))
        return

    import regionlab as rl

    print(f"machine: {machine()}")
    print(f"regionlab {rl.__version__} ({rl.cpu_kernels()} kernels, {rl.num_threads()} threads)\n")
    print(f"{'net':>18} {'regions':>9} {'regionlab s':>12} {'peak MB':>8} | {'regioncam':>9} "
          f"{'s':>8} {'peak MB':>8} {'speed-up':>9}")
    for name in CASES:
        ours = run_worker(__file__, ["--worker", "regionlab", "--case", name])
        cam = run_worker(__file__, ["--worker", "regioncam", "--case", name,
                                    "--regioncam-limit-gb", str(args.regioncam_limit_gb)], allow_failure=True)
        line = f"{name:>18} {ours['regions']:>9,} {ours['seconds']:>12.3f} {ours['peak_rss_mb']:>8.0f}"
        if "failed" in cam:
            line += f" | failed: {cam['failed'][:60]}"
        else:
            line += (f" | {cam['regions']:>9,} {cam['seconds']:>8.3f} {cam['peak_rss_mb']:>8.0f} "
                     f"{cam['seconds'] / ours['seconds']:>8.1f}x")
            if cam["regions"] != ours["regions"]:
                line += f"  (counts differ by {ours['regions'] - cam['regions']}; {ours['tiny']} regions < 1e-10)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
