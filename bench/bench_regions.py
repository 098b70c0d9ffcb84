"""Exact linear regions in a d-dimensional box: regionlab's `rl.regions` against Berzins'
edge subdivision (ICML 2023), and against relucent (ICLR 2026) in all of R^d.

    python bench/bench_regions.py              # the main cases (a few minutes)
    python bench/bench_regions.py --quick      # the small cases only
    python bench/bench_regions.py --deep       # + Berzins' trained 3-(32x8)-1 model, behind a timeout
    python bench/bench_regions.py --relucent   # + relucent on a 3-12-12-1 net in all of R^3
    python bench/bench_regions.py --repeat 5   # best of 5 instead of 3

Baselines (neither is vendored; both live outside the project):

* Berzins, "Polyhedral complex extraction from ReLU networks using edge subdivision",
  github.com/arturs-berzins/relu_edge_subdivision, cloned to $REGIONLAB_BERZINS (default
  /work/baselines/relu_edge_subdivision). Pure PyTorch (float32, CPU here). Its entry point
  `edge_subdivision.skeletal_subdivision(f, bbox=(lo, hi), device, verbose, prune)` takes its
  own `NN.Net(ks)` (an `nn.ModuleList` `fcs` of `Linear`s) and a cube [lo, hi]^d and returns
  the vertices, the edges and the vertices' sign vectors. It subdivides by *every* layer it
  is given, the output neuron's zero set included (it was written to extract a net's
  level set), so it is handed the hidden layers only: what it returns then is the complex
  of the linear regions, the thing `rl.regions` enumerates. `prune=False` (its default):
  pruning drops edges no later neuron cuts, which is for level-set extraction.
  Its trained models (`models/3,3x16,relu,bunny`, `models/3,8x32,relu,bunny`: a signed
  distance to the Stanford bunny over [-0.5, 0.5]^3) are `torch.save`d state dicts of
  `NN.Net` (keys `fcs.{i}.weight/bias`, float32); they load with `weights_only=True` and
  are rebuilt here as a plain `nn.Sequential` of `Linear`/`ReLU` for `rl.from_torch`.
  Berzins reports vertices and edges, not regions; the number of regions is recovered from
  his output for the cross-check column (every region of a bounded box has a vertex, and in
  a generic arrangement the regions at a vertex are its sign vector with each zero neuron
  entry set to + or -), outside the timing. The repository has no licence file: it is run
  from its clone, never copied. On the 3-(32x8)-1 model it runs out of memory (float32
  values of every vertex against all 256 neurons) in its 7th layer after ~7 minutes here.
* relucent (`pip install relucent`, AGPL-3.0; Gurobi LPs through gurobipy's bundled
  size-limited licence, enough for small nets; no other LP back end). It is kept in its own
  venv, $REGIONLAB_RELUCENT_PYTHON (default /work/baselines/relucent-venv/bin/python), with
  torch installed there too; `relucent.Complex(model).bfs()` enumerates every region of R^d
  (local search from the origin, LP per region, certified at the end); `len(complex)` is
  the count, against `rl.regions(net, None, None)`.

Nets: `Linear`/`ReLU` MLPs with PyTorch's default init, torch.manual_seed(0) (the same
builder as bench_plane.py). Every measurement runs in its own process and reports its peak
resident memory (VmHWM) and the growth over what the process held before its timed runs
(imports and a warm-up run on a tiny net); each tool is warmed up first, then the best of
--repeat runs is reported (a single run when one run takes over --long seconds), with that
run's CPU time (steadier than wall time when other processes share the cores). ratio =
Berzins' time / regionlab's (above 1: regionlab is faster). Runs get an address-space
limit (--limit-gb) and the --deep case a timeout (--deep-timeout).
The regionlab side only uses `rl.regions(net, lower, upper, max_regions=...)` and the
result's `n_regions` / `n_regions_per_layer`; without `rl.regions` it is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import build_mlp, machine, peak_rss_mb  # noqa: E402

BERZINS_DIR = os.environ.get("REGIONLAB_BERZINS", "/work/baselines/relu_edge_subdivision")
RELUCENT_PYTHON = os.environ.get("REGIONLAB_RELUCENT_PYTHON", "/work/baselines/relucent-venv/bin/python")

# name -> (widths, box half-width, Berzins model file or None). Random nets are built with
# torch.manual_seed(0); a model file replaces their weights with Berzins' trained ones.
CASES = {
    "bunny 3-16x3-1": ([3, 16, 16, 16, 1], 0.5, "3,3x16,relu,bunny"),
    "3-64x3-1": ([3, 64, 64, 64, 1], 1.0, None),
    "4-32x3-1": ([4, 32, 32, 32, 1], 1.0, None),
    "5-20x3-1": ([5, 20, 20, 20, 1], 1.0, None),
    "6-16x3-1": ([6, 16, 16, 16, 1], 1.0, None),
    "2-128x4-1": ([2, 128, 128, 128, 128, 1], 1.0, None),
    "bunny 3-32x8-1": ([3] + [32] * 8 + [1], 0.5, "3,8x32,relu,bunny"),  # --deep
}
QUICK = ["bunny 3-16x3-1", "4-32x3-1", "2-128x4-1"]
DEEP = ["bunny 3-32x8-1"]
RELUCENT_WIDTHS = [3, 12, 12, 1]
WARMUP_WIDTHS = [3, 8, 8, 1]


def rss_mb() -> float:
    """This process's resident memory now (VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def load_berzins_model(filename: str, widths: list[int]):
    """Berzins' trained `NN.Net` state dict (keys fcs.{i}.weight/bias) as an nn.Sequential."""
    import torch

    path = os.path.join(BERZINS_DIR, "models", filename)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_mlp(widths)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, lin in enumerate(linears):
            lin.weight.copy_(state[f"fcs.{i}.weight"])
            lin.bias.copy_(state[f"fcs.{i}.bias"])
    return model


def case_model(name: str):
    widths, half, model_file = CASES[name]
    model = load_berzins_model(model_file, widths) if model_file else build_mlp(widths)
    return model, widths[0], half


def set_memory_limit(limit_gb: float) -> None:
    """An address-space limit, so that a case a tool cannot fit fails cleanly instead of
    taking the (shared) machine down."""
    import resource

    limit = int(limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def best_of(run, repeats: int, long_s: float):
    """(result, seconds, cpu seconds): the fastest of `repeats` runs, or of one run over
    long_s, with that run's CPU time (all threads; it moves less than the wall time when
    other processes share the cores)."""
    best = cpu = float("inf")
    for i in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        result = run()
        t, c = time.perf_counter() - t, time.process_time() - c
        if t < best:
            best, cpu = t, c
        if t >= long_s:
            break
    return result, best, cpu


# ---------------------------------------------------------------- Berzins' edge subdivision

def berzins_hidden_net(model):
    """Berzins' NN.Net holding the hidden layers of `model` (an nn.Sequential MLP)."""
    import torch

    from NN import Net

    linears = [m for m in model if isinstance(m, torch.nn.Linear)][:-1]
    ks = [linears[0].in_features] + [lin.out_features for lin in linears]
    net = Net(ks)
    with torch.no_grad():
        for fc, lin in zip(net.fcs, linears):
            fc.weight.copy_(lin.weight)
            fc.bias.copy_(lin.bias)
    return net.eval()


def regions_from_vertices(v_sv, d: int, chunk: int = 1 << 18) -> int:
    """Number of regions of Berzins' complex: the distinct neuron sign vectors obtained from
    each vertex's by setting every zero neuron entry to + or -. v_sv: int8 [V, 2d + N],
    the first 2d columns being the box's faces."""
    import numpy as np

    s = v_sv[:, 2 * d:].numpy()
    zeros = s == 0
    k = zeros.sum(1)
    keys = []
    for kk in np.unique(k):
        sel = k == kk
        rows = s[sel]
        pos = np.nonzero(zeros[sel])[1].reshape(len(rows), kk)
        signs = (((np.arange(2 ** kk)[:, None] >> np.arange(kk)) & 1) * 2 - 1).astype(np.int8)
        step = max(1, chunk >> kk)
        for a in range(0, len(rows), step):
            r, p = rows[a:a + step], pos[a:a + step]
            full = np.repeat(r[:, None, :], 2 ** kk, axis=1)  # [n, 2^k, N]
            full[np.arange(len(r))[:, None, None], np.arange(2 ** kk)[None, :, None], p[:, None, :]] = signs
            packed = np.packbits(full.reshape(-1, s.shape[1]) > 0, axis=1)
            keys.append(np.unique(packed.view(f"V{packed.shape[1]}").ravel()))
    return len(np.unique(np.concatenate(keys))) if keys else 0


def worker_berzins(name: str, repeats: int, long_s: float, derive: bool, limit_gb: float) -> dict:
    import contextlib
    import io

    import torch

    set_memory_limit(limit_gb)

    sys.path.insert(0, BERZINS_DIR)
    from edge_subdivision import skeletal_subdivision

    torch.set_grad_enabled(False)
    noise = io.StringIO()  # its non-generic warnings go to stdout

    def run_on(net, half):
        with contextlib.redirect_stdout(noise):
            return skeletal_subdivision(net, bbox=(-half, half), device="cpu", verbose=False, prune=False)

    run_on(berzins_hidden_net(build_mlp(WARMUP_WIDTHS)), 1.0)  # warm-up
    model, d, half = case_model(name)
    net = berzins_hidden_net(model)
    noise.seek(0), noise.truncate()
    before = rss_mb()
    (vs, edges, v_sv), seconds, cpu = best_of(lambda: run_on(net, half), repeats, long_s)
    out = {"seconds": seconds, "cpu_seconds": cpu, "vertices": len(vs), "edges": len(edges),
           "non_generic_warnings": noise.getvalue().count("Warning"),
           "peak_rss_mb": peak_rss_mb(), "growth_mb": peak_rss_mb() - before}
    if derive and len(vs) <= 20_000_000:
        t = time.perf_counter()
        out["regions"] = regions_from_vertices(v_sv, d)
        out["derive_seconds"] = time.perf_counter() - t
    return out


# ---------------------------------------------------------------- regionlab

def worker_regionlab(name: str | None, repeats: int, long_s: float, max_regions: int, limit_gb: float,
                     volumes: bool = True) -> dict:
    import numpy as np

    import regionlab as rl

    set_memory_limit(limit_gb)

    if not hasattr(rl, "regions"):
        return {"skipped": "this regionlab has no rl.regions"}
    if name is None:  # the relucent case: all of R^d
        model, lower, upper = build_mlp(RELUCENT_WIDTHS), None, None
    else:
        model, d, half = case_model(name)
        lower, upper = np.full(d, -half), np.full(d, half)
    warm = rl.from_torch(build_mlp(WARMUP_WIDTHS), dtype=np.float64)
    rl.regions(warm, np.full(3, -1.0), np.full(3, 1.0), max_regions=max_regions)
    net = rl.from_torch(model, dtype=np.float64)
    before = rss_mb()
    part, seconds, cpu = best_of(lambda: rl.regions(net, lower, upper, max_regions=max_regions,
                                                    volumes=volumes), repeats, long_s)
    return {"seconds": seconds, "cpu_seconds": cpu, "regions": int(part.n_regions),
            "per_layer": [int(n) for n in part.n_regions_per_layer],
            "peak_rss_mb": peak_rss_mb(), "growth_mb": peak_rss_mb() - before}


# ---------------------------------------------------------------- relucent

def worker_relucent(repeats: int, long_s: float) -> dict:
    import relucent

    relucent.update_settings(VERBOSE=0)

    def run(widths):
        cplx = relucent.Complex(build_mlp(widths))
        result = cplx.bfs()  # all of R^d; nworkers = all cores; verify=True certifies the result
        assert cplx.complete and result.complete, result
        return cplx

    run([2, 4, 1])  # warm-up (starts the Gurobi environment and the worker pool code)
    before = rss_mb()
    cplx, seconds, cpu = best_of(lambda: run(RELUCENT_WIDTHS), repeats, long_s)
    return {"seconds": seconds, "cpu_seconds": cpu, "regions": len(cplx), "verified": bool(cplx.verified),
            "version": relucent.__version__, "peak_rss_mb": peak_rss_mb(),
            "growth_mb": peak_rss_mb() - before}


# ---------------------------------------------------------------- driver

def run_worker(args: list[str], *, python: str = sys.executable, timeout: float | None = None) -> dict:
    """Runs `python this-script --worker ...` and returns the JSON its last line prints;
    {"failed": ...} when it fails or runs past `timeout` seconds."""
    t = time.perf_counter()
    try:
        out = subprocess.run([python, os.path.abspath(__file__)] + args, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        lines = [ln.strip() for ln in out.stderr.splitlines() if ln.strip().strip("^~")]
        return {"failed": f"after {time.perf_counter() - t:.0f} s: "
                          + (lines[-1][-300:] if lines else f"exit {out.returncode}")}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_time(r: dict) -> str:
    return f"{r['seconds']:.3f}" if "seconds" in r else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the small cases only")
    ap.add_argument("--deep", action="store_true", help="also Berzins' trained 3-(32x8)-1 model")
    ap.add_argument("--relucent", action="store_true", help="also relucent on 3-12-12-1 in R^3")
    ap.add_argument("--repeat", type=int, default=3, help="best of N warm runs (default 3)")
    ap.add_argument("--long", type=float, default=120.0, help="one run only past this many seconds")
    ap.add_argument("--deep-timeout", type=float, default=900.0, help="seconds for each --deep run")
    ap.add_argument("--max-regions", type=int, default=100_000_000)
    ap.add_argument("--limit-gb", type=float, default=14.0, help="address-space limit of each run (GB)")
    ap.add_argument("--no-derive", action="store_true", help="skip recovering region counts from Berzins' output")
    ap.add_argument("--only", action="append", help="run only this case (repeatable)")
    ap.add_argument("--no-volumes", action="store_true",
                    help="regionlab without the volumes (rl.regions(..., volumes=False))")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        result = {
            "berzins": lambda: worker_berzins(args.case, args.repeat, args.long, not args.no_derive,
                                           args.limit_gb),
            "regionlab": lambda: worker_regionlab(args.case, args.repeat, args.long, args.max_regions,
                                                  args.limit_gb, not args.no_volumes),
            "relucent": lambda: worker_relucent(args.repeat, args.long),
        }[args.worker]()
        print(json.dumps(result))
        return

    import torch

    import regionlab as rl

    have_berzins = os.path.isfile(os.path.join(BERZINS_DIR, "edge_subdivision.py"))
    if not have_berzins:
        print(f"Berzins' edge subdivision not found at {BERZINS_DIR}: clone "
              "github.com/arturs-berzins/relu_edge_subdivision there or point REGIONLAB_BERZINS "
              "at a clone (its trained models are in its models/ folder); regionlab alone\n")
    have_regions = hasattr(rl, "regions")
    if not have_regions:
        print("this regionlab has no rl.regions: the regionlab side is skipped\n")

    print(f"machine: {machine()}")
    print(f"regionlab {rl.__version__} ({rl.cpu_kernels()} kernels, {rl.num_threads()} threads), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"warm, best of {args.repeat} (one run past {args.long:.0f} s); each tool in its own process; "
          "peak = VmHWM, +MB = growth over imports and warm-up")
    print("regionlab computes " + ("every region's pattern, map, interior point and radius, facets and "
                                   "decision-boundary measure, without volumes" if args.no_volumes else
                                   "every region's pattern, map, interior point and radius, facets, "
                                   "volume and decision-boundary measure") + "\n")

    names = QUICK if args.quick else [n for n in CASES if n not in DEEP]
    if args.deep:
        names = names + DEEP
    if args.only:
        names = [n for n in CASES if n in args.only]
    hdr = (f"{'case':<16} {'box':>12} {'vertices':>10} {'regions':>10} {'regions':>10}"
           f" {'Berzins s':>10} {'regionlab s':>11} {'ratio':>7}"
           f" {'Berzins MB':>14} {'regionlab MB':>14}")
    print(hdr)
    print(f"{'':<16} {'':>12} {'(Berzins)':>10} {'(Berzins)':>10} {'(ours)':>10}")
    common = ["--repeat", str(args.repeat), "--long", str(args.long)]
    for name in names:
        half = CASES[name][1]
        if CASES[name][2] and not have_berzins:
            print(f"{name:<16} skipped: the trained model is in Berzins' clone ({CASES[name][2]})")
            continue
        timeout = args.deep_timeout if name in DEEP else None
        b = {"failed": "not run"}
        if have_berzins:
            b = run_worker(["--worker", "berzins", "--case", name, "--limit-gb", str(args.limit_gb)]
                           + common + (["--no-derive"] if args.no_derive else []), timeout=timeout)
        o = {"skipped": "no rl.regions"}
        if have_regions:
            o = run_worker(["--worker", "regionlab", "--case", name, "--max-regions", str(args.max_regions),
                            "--limit-gb", str(args.limit_gb)] + common
                           + (["--no-volumes"] if args.no_volumes else []), timeout=timeout)
        box = f"[{-half:g},{half:g}]^{CASES[name][0][0]}"
        line = f"{name:<16} {box:>12}"
        line += f" {b['vertices']:>10,}" if "vertices" in b else f" {'-':>10}"
        line += f" {b['regions']:>10,}" if "regions" in b else f" {'-':>10}"
        line += f" {o['regions']:>10,}" if "regions" in o else f" {'-':>10}"
        line += f" {fmt_time(b):>10} {fmt_time(o):>11}"
        line += f" {b['seconds'] / o['seconds']:>6.1f}x" if "seconds" in b and "seconds" in o else f" {'-':>7}"
        for r in (b, o):
            line += (f" {r['peak_rss_mb']:>6.0f} (+{r['growth_mb']:>5.0f})" if "peak_rss_mb" in r
                     else f" {'-':>14}")
        print(line, flush=True)
        for who, r in (("Berzins", b), ("regionlab", o)):
            if "failed" in r and (who != "Berzins" or have_berzins):
                print(f"    {who} failed: {r['failed']}")
            if "skipped" in r and have_regions:
                print(f"    {who}: {r['skipped']}")
        if b.get("non_generic_warnings"):
            print(f"    Berzins warned {b['non_generic_warnings']} times that a hyperplane met a vertex "
                  "(non-generic up to float32)")
        if "regions" in b and "regions" in o and b["regions"] != o["regions"]:
            print(f"    region counts differ by {o['regions'] - b['regions']:+,} (Berzins works in float32)")
        detail = []
        if "cpu_seconds" in b:
            detail.append(f"Berzins {b['edges']:,} edges, CPU {b['cpu_seconds']:.3f} s")
        if "cpu_seconds" in o:
            detail.append(f"regionlab CPU {o['cpu_seconds']:.3f} s, "
                          f"{o['regions'] / o['seconds']:,.0f} regions/s, per layer {o['per_layer']}")
        if detail:
            print("    " + "; ".join(detail))

    if args.relucent:
        print(f"\nall of R^3, {'-'.join(map(str, RELUCENT_WIDTHS))} net (seed 0):")
        if not os.path.exists(RELUCENT_PYTHON):
            print(f"  relucent's python not found at {RELUCENT_PYTHON}: python3 -m venv "
                  "/work/baselines/relucent-venv && /work/baselines/relucent-venv/bin/pip install "
                  "\"relucent[torch]\" (or point REGIONLAB_RELUCENT_PYTHON at one)")
            r = {"failed": "not installed"}
        else:
            r = run_worker(["--worker", "relucent"] + common, python=RELUCENT_PYTHON)
        o = {"skipped": "no rl.regions"}
        if have_regions:
            o = run_worker(["--worker", "regionlab", "--max-regions", str(args.max_regions)] + common)
        for who, res in (("relucent", r), ("regionlab", o)):
            if "seconds" in res:
                extra = f" relucent {res['version']}, certified={res['verified']}" if who == "relucent" else ""
                print(f"  {who:<10} {res['regions']:>8,} regions {res['seconds']:>9.3f} s "
                      f"(CPU {res['cpu_seconds']:.3f} s, this process only), peak "
                      f"{res['peak_rss_mb']:.0f} MB (+{res['growth_mb']:.0f}){extra}")
            else:
                print(f"  {who:<10} {res.get('failed') or res.get('skipped')}")
        if "seconds" in r and "seconds" in o:
            print(f"  speed-up {r['seconds'] / o['seconds']:.1f}x"
                  + ("" if r["regions"] == o["regions"] else
                     f"; counts differ by {o['regions'] - r['regions']:+,}"))


if __name__ == "__main__":
    main()
