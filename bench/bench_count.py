"""Counting activation patterns: regionlab against torch, measured in one run.

    python bench/bench_count.py                 # 10^6 samples and a streamed 10^7
    python bench/bench_count.py --n 200000 --stream 1000000   # quicker

Model: a float32 784-512-512-512 MLP (three Linear+ReLU layers, PyTorch's default init,
seed 0); inputs N(0, I). Each measurement runs in its own process, so its peak resident
memory is its own. Baselines:

  (a) torch forward: the bare forward pass in inference mode, at its fastest batch size
      (the floor: the matrix products are the work);
  (b) torch unique: forward with hooks, `> 0` on every ReLU input, then
      `torch.unique(dim=0)` on the stacked patterns (the natural torch way to count).

The streamed run does not import torch: numpy makes the batches of 10^4 samples, and the
process's peak resident memory is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
from _harness import machine, peak_rss_mb  # noqa: E402

WIDTHS = (784, 512, 512, 512)
SEED = 0


def build_model():
    import torch

    torch.manual_seed(SEED)
    layers = []
    for i, o in zip(WIDTHS, WIDTHS[1:]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers).eval()


def make_inputs(n: int):
    import torch

    gen = torch.Generator().manual_seed(SEED + 1)
    return torch.randn(n, WIDTHS[0], generator=gen)


def fastest_torch_batch(model, X) -> int:
    import torch

    best, best_t = None, float("inf")
    sample = X[: min(len(X), 60_000)]
    with torch.inference_mode():
        for batch in (1024, 4096, 16384, 65536):
            t = time.perf_counter()
            for i in range(0, len(sample), batch):
                model(sample[i : i + batch])
            t = time.perf_counter() - t
            if t < best_t:
                best, best_t = batch, t
    return best


def worker_torch_forward(n: int) -> dict:
    import torch

    model, X = build_model(), make_inputs(n)
    batch = fastest_torch_batch(model, X)
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, n, batch):
            model(X[i : i + batch])
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "batch": batch, "peak_rss_mb": peak_rss_mb()}


def worker_torch_unique(n: int) -> dict:
    import torch

    model, X = build_model(), make_inputs(n)
    batch = fastest_torch_batch(model, X)
    relus = [m for m in model if isinstance(m, torch.nn.ReLU)]
    t = time.perf_counter()
    with torch.inference_mode():
        chunks = []
        for i in range(0, n, batch):
            signs = []
            hooks = [r.register_forward_hook(lambda m, inp, out: signs.append(inp[0] > 0)) for r in relus]
            model(X[i : i + batch])
            for h in hooks:
                h.remove()
            chunks.append(torch.cat(signs, dim=1))
        patterns = torch.cat(chunks)
        n_patterns = len(torch.unique(patterns, dim=0))
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "n_patterns": n_patterns, "peak_rss_mb": peak_rss_mb()}


def worker_regionlab(n: int) -> dict:
    import regionlab as rl

    model, X = build_model(), make_inputs(n)
    net = rl.from_torch(model)
    Xn = X.numpy()
    rl.count_patterns(net, Xn[:20_000])  # warm-up: thread start, page faults
    t = time.perf_counter()
    pc = rl.count_patterns(net, Xn)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "n_patterns": pc.n_patterns,
        "per_layer": list(pc.n_patterns_per_layer),
        "kernels": rl.cpu_kernels(),
        "threads": rl.num_threads(),
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_stream(n: int, weights_path: str) -> dict:
    import numpy as np

    import regionlab as rl

    arrays = np.load(weights_path)
    k = len(WIDTHS) - 1
    net = rl.PLNet.from_arrays(
        [arrays[f"w{i}"] for i in range(k)], [arrays[f"b{i}"] for i in range(k)], ["relu"] * k
    )
    batch = 10_000
    rng = np.random.default_rng(SEED + 2)

    def batches():
        for start in range(0, n, batch):
            yield rng.standard_normal((min(batch, n - start), WIDTHS[0]), dtype=np.float32)

    rss_before = peak_rss_mb()
    t = time.perf_counter()
    pc = rl.count_patterns(net, batches())
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "n_patterns": pc.n_patterns,
        "n_samples": pc.n_samples,
        "set_memory_mb": pc.memory_bytes / 2**20,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_worker(name: str, n: int, extra: list[str] | None = None) -> dict:
    return _harness.run_worker(__file__, ["--worker", name, "--n", str(n)] + (extra or []))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="samples in memory")
    ap.add_argument("--stream", type=int, default=10_000_000, help="samples streamed (0: skip)")
    ap.add_argument("--skip-unique", action="store_true", help="skip the torch.unique baseline")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        if args.worker == "stream":
            result = worker_stream(args.n, args.weights)
        else:
            result = {"torch_forward": worker_torch_forward, "torch_unique": worker_torch_unique,
                      "regionlab": worker_regionlab}[args.worker](args.n)
        print(json.dumps(result))
        return

    import torch

    import regionlab as rl

    print(f"machine: {machine()}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), regionlab {rl.__version__} "
          f"({rl.cpu_kernels()} kernels, {rl.num_threads()} threads)")
    print(f"model: float32 {'-'.join(map(str, WIDTHS))} ReLU MLP, inputs N(0, I)\n")

    fwd = run_worker("torch_forward", args.n)
    ours = run_worker("regionlab", args.n)
    print(f"n = {args.n:,}")
    print(f"  torch forward (batch {fwd['batch']}): {fwd['seconds']:8.2f} s   peak RSS {fwd['peak_rss_mb']:7.0f} MB")
    print(f"  regionlab count_patterns:   {ours['seconds']:8.2f} s   peak RSS {ours['peak_rss_mb']:7.0f} MB"
          f"   {ours['n_patterns']:,} patterns, per layer {ours['per_layer']}")
    print(f"  ratio count / forward:      {ours['seconds'] / fwd['seconds']:8.3f}   (target <= 1.15)")
    if not args.skip_unique:
        uniq = run_worker("torch_unique", args.n)
        assert uniq["n_patterns"] == ours["n_patterns"], (uniq, ours)
        print(f"  torch forward+unique:       {uniq['seconds']:8.2f} s   peak RSS {uniq['peak_rss_mb']:7.0f} MB"
              f"   {uniq['n_patterns']:,} patterns")
        print(f"  speed-up over unique:       {uniq['seconds'] / ours['seconds']:8.2f}x  (target >= 2)")

    if args.stream:
        model = build_model()
        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "weights.npz")
            arrays = {}
            for i, lin in enumerate(linears):
                arrays[f"w{i}"] = lin.weight.detach().numpy()
                arrays[f"b{i}"] = lin.bias.detach().numpy()
            import numpy as np

            np.savez(path, **arrays)
            st = run_worker("stream", args.stream, ["--weights", path])
        print(f"\nstreamed n = {args.stream:,} in batches of 10^4 (numpy generates them; no torch imported)")
        print(f"  regionlab count_patterns:   {st['seconds']:8.2f} s incl. generation, "
              f"{st['n_patterns']:,} patterns")
        print(f"  peak RSS {st['peak_rss_mb']:.0f} MB (before counting {st['rss_before_mb']:.0f} MB; "
              f"hash sets {st['set_memory_mb']:.0f} MB)   (target < 1024 MB)")


if __name__ == "__main__":
    main()
