"""Runs an example script's quick mode the way the example tests do."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_quick(name: str, out_dir, *args: str) -> str:
    """``python -W error examples/<name>.py --quick --out out_dir *args``; returns what it
    printed, and fails the test with the script's stderr if it exits with an error."""
    proc = subprocess.run([sys.executable, "-W", "error", str(EXAMPLES / f"{name}.py"), "--quick",
                           "--out", str(out_dir), *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"examples/{name}.py --quick failed:\n{proc.stderr[-4000:]}"
    return proc.stdout
