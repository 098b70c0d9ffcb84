"""What every benchmark here shares: the machine's description, peak memory, and running
one measurement in its own process (so that its peak memory is its own)."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, where Linux has it: ru_maxrss would
    also count the parent's memory at fork time, which Linux carries over into the child."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def run_worker(script: str, args: list[str], *, allow_failure: bool = False) -> dict:
    """Runs `python script --worker ... args` and returns the JSON its last line prints.

    With allow_failure, a failed worker gives {"failed": <last lines of stderr>}.
    """
    out = subprocess.run([sys.executable, script] + args, capture_output=True, text=True)
    if out.returncode != 0:
        if allow_failure:
            return {"failed": " ".join(out.stderr.strip().splitlines()[-2:])[-300:] or f"exit {out.returncode}"}
        raise RuntimeError(f"worker {args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_mlp(widths: list[int], seed: int = 0):
    """A Linear/ReLU MLP with PyTorch's default init after torch.manual_seed(seed)."""
    import torch

    torch.manual_seed(seed)
    layers = []
    for i, o in zip(widths[:-2], widths[1:-1]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(widths[-2], widths[-1]))
    return torch.nn.Sequential(*layers).eval()
