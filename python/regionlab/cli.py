"""The `regionlab` command line."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="regionlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small 2-D classifier, count and draw its regions")
    demo.add_argument("--out", default=".", help="folder for regionlab_demo.png (default: .)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--grid", type=int, default=1000, help="grid points per side")
    info = sub.add_parser("info", help="print the core's build and runtime settings")
    del info
    args = parser.parse_args(argv)

    if args.command == "demo":
        from .demo import run

        run(out_dir=args.out, seed=args.seed, side=args.grid)
    elif args.command == "info":
        import regionlab

        print(f"regionlab {regionlab.__version__}")
        print(f"cpu kernels: {regionlab.cpu_kernels()}, threads: {regionlab.num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
