#!/usr/bin/env bash
# The GPU check of issue 14, in one script: build regionlab with CUDA, run the gpu tests,
# run the GPU benchmark. Run it from the repository root on the GPU machine:
#
#     OUT=/some/folder bash bench/gpu_check.sh
#
# Writes (at most 5 files) under $OUT: check.log (everything printed, with timings),
# build.log (pip -v), tests.log (pytest), bench.log (bench/bench_count_gpu.py). The python3
# on PATH must hold torch with CUDA. If numpy/tqdm are missing and a folder .wheels/
# (or $REGIONLAB_WHEELS) holds their wheels, they are installed from it, offline.
# Expected time on an H200 with 16 cores: ~1 min build, ~1 min tests, ~1 min benchmark; the
# step timeouts add to about 9 minutes, so run it with a device timeout of 600 s.
set -u -o pipefail
export PYTHONUNBUFFERED=1  # what a killed step printed still reaches its log

OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/check.log") 2>&1
T0=$(date +%s)
step() { echo; echo "=== [$(date -u +%H:%M:%S), +$(( $(date +%s) - T0 ))s] $*"; }
STATUS=0

step "machine"
nvidia-smi || echo "(nvidia-smi failed)"
python3 --version
python3 -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '| device available:', torch.cuda.is_available())" \
  || echo "(torch import failed)"
nvcc --version | tail -2 || echo "(no nvcc on PATH)"
cmake --version | head -1 || true
nproc
git log --oneline -1 2>/dev/null || true

step "python packages regionlab needs at run time (numpy, tqdm)"
if ! python3 -c "import numpy, tqdm" 2>/dev/null; then
  WHEELS=${REGIONLAB_WHEELS:-.wheels}
  if [ -d "$WHEELS" ]; then
    python3 -m pip install --no-index --find-links "$WHEELS" numpy tqdm || { echo "could not install numpy/tqdm from $WHEELS"; exit 1; }
  else
    echo "numpy or tqdm is missing and there is no $WHEELS folder with their wheels"; exit 1
  fi
fi
python3 -c "import numpy, tqdm, pytest, hypothesis; print('numpy', numpy.__version__, '| tqdm', tqdm.__version__, '| pytest', pytest.__version__, '| hypothesis', hypothesis.__version__)" \
  || { echo "a test dependency is missing"; exit 1; }

step "build and install with REGIONLAB_CUDA=ON (log: $OUT/build.log)"
# Build against the cuBLAS that torch itself loads (its pip nvidia-cublas), when present:
# two different libcublas.so.13 in one process would clash.
TORCH_CUBLAS=$(python3 -c "import site, os; p=os.path.join(site.getsitepackages()[0], 'nvidia', 'cu13'); print(p if os.path.isdir(os.path.join(p, 'include')) else '')" 2>/dev/null)
ls /usr/local/cuda/lib64/libcublas.so* 2>/dev/null | head -3; python3 -m pip show nvidia-cublas 2>/dev/null | head -2
CUBLAS_ARG=""
if [ -n "$TORCH_CUBLAS" ]; then CUBLAS_ARG="-DREGIONLAB_CUBLAS_ROOT=$TORCH_CUBLAS"; echo "cuBLAS from torch's wheel: $TORCH_CUBLAS"; fi
if ! REGIONLAB_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL=16 CMAKE_ARGS="$CUBLAS_ARG" timeout 240 \
     python3 -m pip install --no-index --disable-pip-version-check --no-build-isolation --no-deps -v . > "$OUT/build.log" 2>&1; then
  echo "BUILD FAILED (or timed out after 240 s). Last 80 lines of build.log:"
  tail -80 "$OUT/build.log"
  exit 1
fi
grep -E "regionlab: CUDA|CUDA compiler identification|Found CUDAToolkit" "$OUT/build.log" || true
tail -3 "$OUT/build.log"

step "import check (must be the installed package, with CUDA available)"
timeout 120 python3 - <<'PY' || { echo "IMPORT CHECK FAILED (or timed out after 120 s)"; exit 1; }
import regionlab as rl
from regionlab import _core
print("regionlab from", rl.__file__)
assert "site-packages" in rl.__file__ or "dist-packages" in rl.__file__, "imported the source tree, not the installed package"
print("has CUDA symbols:", hasattr(_core, "CudaPatternCounter32"))
print("cuda_available():", rl.cuda_available(), "| status:", repr(_core.cuda_status()) if hasattr(_core, "cuda_status") else "-")
assert rl.cuda_available(), "rl.cuda_available() is False"
print("device 0:", _core.cuda_device_name(0), "| memory (free, total):", _core.cuda_memory(0))
import numpy as np
net = rl.PLNet.from_arrays([np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]]), np.ones((1, 3))], None, "relu")
X = np.random.default_rng(0).standard_normal((1000, 2))
a = rl.count_patterns(net, X, return_inverse=True)
b = rl.count_patterns(net, X, return_inverse=True, device="cuda")
print("smoke test: cpu", a.n_patterns, "cuda", b.n_patterns, "| inverse equal:", bool((a.inverse == b.inverse).all()))
assert a.n_patterns == b.n_patterns and (a.inverse == b.inverse).all()
PY

step "gpu tests (log: $OUT/tests.log)"
# pyproject's addopts say -m 'not slow and not gpu'; the -m given here replaces it.
python3 -m pytest -m gpu --collect-only -q -p no:cacheprovider tests/test_count_cuda.py 2>&1 | tail -1
timeout 150 python3 -m pytest -m gpu tests/test_count_cuda.py -q -rs -p no:cacheprovider --maxfail=5 --durations=5 --timeout=60 --timeout-method=thread \
  2>&1 | tee "$OUT/tests.log"
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ]; then echo "GPU TESTS FAILED (exit $rc)"; STATUS=1; fi
if grep -qE "[0-9]+ passed" "$OUT/tests.log" && ! grep -qE " skipped" "$OUT/tests.log"; then
  echo "gpu tests ran (none skipped)"
else
  echo "WARNING: gpu tests were skipped or did not run; see tests.log"; STATUS=1
fi

step "benchmark at n = 10^7 (log: $OUT/bench.log)"
timeout 150 python3 bench/bench_count_gpu.py --n 10000000 2>&1 | tee "$OUT/bench.log"
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ]; then echo "BENCHMARK FAILED (exit $rc)"; STATUS=1; fi
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true

step "done, status $STATUS (0 = build, tests and benchmark all fine)"
exit $STATUS
