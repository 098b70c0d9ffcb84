"""Counting activation patterns on a GPU: regionlab against torch on the same device.

    python bench/bench_count_gpu.py                  # 10^7 samples
    python bench/bench_count_gpu.py --n 1000000      # quicker

Model: a float32 784-512-512-512 MLP (three Linear+ReLU layers, PyTorch's default init,
seed 0); inputs N(0, I) generated on the device (seeded torch.randn) in chunks of 10^6
rows before any timing, so no host transfer is timed. TF32 is off everywhere
(torch.backends.cuda.matmul.allow_tf32 = False; regionlab's cuBLAS handle uses
CUBLAS_DEFAULT_MATH), so every product is a float32 product. Every timing is bracketed by
torch.cuda.synchronize(). Measured, in this order:

  (a) torch forward: the bare forward pass in inference mode over all n samples, at its
      fastest batch size (the floor: the matrix products are the work);
  (b) regionlab: count_patterns(model_as_PLNet, chunks, device="cuda") over all n samples
      (the chunks are CUDA tensors, read in place);
  (c) torch forward + unique: forward with hooks, `> 0` on every ReLU input, the bool
      patterns concatenated, then torch.unique(dim=0) -- what a user would write. Its bool
      patterns alone take n * 1536 bytes and unique(dim=0) sorts them, so it runs on the
      first --unique-n samples (default 10^6) and its time is scaled by n / unique-n
      (a lower bound for torch: sorting grows faster than linearly). regionlab is run on
      the same samples and must find the same count.

Peak device memory: torch.cuda.max_memory_allocated() beyond the input data for torch;
for regionlab, the most it held itself (batch buffers and hash tables; cuBLAS's own
workspace is not counted), from its allocation tally.
"""

from __future__ import annotations

import argparse
import sys
import time

WIDTHS = (784, 512, 512, 512)
SEED = 0
CHUNK = 1_000_000


def log(msg: str) -> None:
    print(msg, flush=True)


def build_model():
    import torch

    torch.manual_seed(SEED)
    layers = []
    for i, o in zip(WIDTHS, WIDTHS[1:]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers).eval()


def make_chunks(n: int, device):
    import torch

    gen = torch.Generator(device=device).manual_seed(SEED + 1)
    chunks = []
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        chunks.append(torch.randn(rows, WIDTHS[0], device=device, generator=gen))
    torch.cuda.synchronize()
    return chunks


def timed(fn):
    import torch

    torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t, out


def torch_forward(model, chunks, batch: int) -> None:
    import torch

    with torch.inference_mode():
        for c in chunks:
            for i in range(0, len(c), batch):
                model(c[i : i + batch])


def fastest_batch(model, chunk) -> int:
    best, best_t = 65536, float("inf")
    for batch in (16384, 65536, 262144):
        torch_forward(model, [chunk], batch)  # warm-up (cuBLAS heuristics, allocator)
        t, _ = timed(lambda: torch_forward(model, [chunk], batch))
        log(f"    torch forward, batch {batch:>6}: {len(chunk) / t / 1e6:8.1f} M samples/s")
        if t < best_t:
            best, best_t = batch, t
    return best


def torch_unique(model, chunks, batch: int) -> int:
    import torch

    relus = [m for m in model if isinstance(m, torch.nn.ReLU)]
    with torch.inference_mode():
        parts = []
        for c in chunks:
            for i in range(0, len(c), batch):
                signs = []
                hooks = [r.register_forward_hook(lambda m, inp, out: signs.append(inp[0] > 0)) for r in relus]
                model(c[i : i + batch])
                for h in hooks:
                    h.remove()
                parts.append(torch.cat(signs, dim=1))
        patterns = torch.cat(parts)
        del parts
        try:
            return int(torch.unique(patterns, dim=0).shape[0])
        except (RuntimeError, NotImplementedError):  # a torch without bool unique_dim on CUDA
            return int(torch.unique(patterns.to(torch.uint8), dim=0).shape[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000_000, help="samples (default 10^7)")
    ap.add_argument("--unique-n", type=int, default=1_000_000,
                    help="samples for forward+unique (scaled to n; 0 skips it)")
    args = ap.parse_args()

    import numpy as np
    import torch

    import regionlab as rl
    from regionlab import _core

    if not torch.cuda.is_available():
        log("torch sees no CUDA device: nothing to measure")
        return 1
    if not rl.cuda_available():
        log("this regionlab has no CUDA (build it with REGIONLAB_CUDA=ON pip install --no-build-isolation .)")
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda:0")
    log(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
        f"regionlab {rl.__version__}")
    log(f"model: float32 {'-'.join(map(str, WIDTHS))} ReLU MLP, inputs N(0, I) on the device, TF32 off\n")

    model_cpu = build_model()
    net = rl.from_torch(model_cpu)
    model = build_model().to(dev)
    n = args.n
    t_gen, chunks = timed(lambda: make_chunks(n, dev))
    data_bytes = sum(c.numel() * c.element_size() for c in chunks)
    log(f"n = {n:,}: data generated on the device in {t_gen:.2f} s ({data_bytes / 2**30:.1f} GiB)")

    # (a) the floor
    batch = fastest_batch(model, chunks[0])
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    t_fwd, _ = timed(lambda: torch_forward(model, chunks, batch))
    fwd_peak = torch.cuda.max_memory_allocated() - base
    log(f"  torch forward (batch {batch}):   {t_fwd:8.3f} s  {n / t_fwd / 1e6:8.1f} M samples/s  "
        f"peak {fwd_peak / 2**20:8.0f} MiB beyond the data")

    # (b) regionlab
    rl.count_patterns(net, chunks[0][:200_000], device="cuda")  # warm-up: cuBLAS, module load
    _core.cuda_reset_peak_bytes()
    torch.cuda.reset_peak_memory_stats()
    t_rl, pc = timed(lambda: rl.count_patterns(net, iter(chunks), device="cuda"))
    rl_peak = _core.cuda_peak_bytes()
    log(f"  regionlab count_patterns:     {t_rl:8.3f} s  {n / t_rl / 1e6:8.1f} M samples/s  "
        f"peak {rl_peak / 2**20:8.0f} MiB (its buffers and tables)")
    log(f"      {pc.n_patterns:,} patterns, per layer {pc.n_patterns_per_layer}, exact={pc.exact}, "
        f"tables {pc.memory_bytes / 2**20:.0f} MiB")
    log(f"  ratio count / forward:        {t_rl / t_fwd:8.3f}   (target <= 1.2)")

    # (c) forward + unique on a prefix, scaled
    if args.unique_n:
        m = min(args.unique_n, n)
        sub = [c for c in chunks][: (m + CHUNK - 1) // CHUNK]
        sub[-1] = sub[-1][: m - CHUNK * (len(sub) - 1)]
        del chunks
        torch.cuda.empty_cache()
        try:
            torch_unique(model, [sub[0][:10_000]], batch)  # warm-up
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            t_u, n_u = timed(lambda: torch_unique(model, sub, batch))
            u_peak = torch.cuda.max_memory_allocated() - base
        except torch.cuda.OutOfMemoryError as exc:
            log(f"  torch forward+unique at n={m:,}: out of memory ({str(exc).splitlines()[0]})")
            return 0
        t_rl_m, pc_m = timed(lambda: rl.count_patterns(net, iter(sub), device="cuda"))
        scale = n / m
        log(f"  torch forward+unique at n={m:,}: {t_u:8.3f} s, {n_u:,} patterns, peak {u_peak / 2**20:.0f} MiB; "
            f"regionlab at n={m:,}: {t_rl_m:.3f} s, {pc_m.n_patterns:,} patterns")
        if n_u != pc_m.n_patterns:
            log(f"  MISMATCH: torch.unique found {n_u:,} patterns, regionlab {pc_m.n_patterns:,}")
        log(f"  torch forward+unique scaled to n={n:,}: {t_u * scale:8.3f} s (x{scale:g}, linear: a lower bound)")
        log(f"  ratio unique / count:         {t_u * scale / t_rl:8.2f}x  (target >= 5; same n: "
            f"{t_u / t_rl_m:.2f}x)")
    _ = np  # numpy is imported for regionlab's arrays
    return 0


if __name__ == "__main__":
    sys.exit(main())
