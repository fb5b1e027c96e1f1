#!/usr/bin/env bash
# The checks that need a CUDA device, in one go: the CUDA tests, the whole suite
# with CUDA visible, and the GPU benchmarks next to their CPU baselines on the same
# machine. Usage: scripts/gpu_checks.sh [RESULTS_DIR]   (logs go to RESULTS_DIR)
set -uo pipefail
results=${1:-gpu-results}
mkdir -p "$results"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
status=0
step() {  # step NAME COMMAND...: run, log to RESULTS_DIR/NAME.log, remember failures
  local name=$1; shift
  echo "== $name: $*"
  local start=$SECONDS
  "$@" > "$results/$name.log" 2>&1; local rc=$?
  tail -n 25 "$results/$name.log"
  echo "== $name: exit $rc after $((SECONDS - start)) s"
  [ $rc -eq 0 ] || status=1
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
step cuda_tests $py -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/policies/test_persistence.py tests/evaluation/test_runner.py -k "cuda or gpu"
step bench_core_cuda $py scripts/bench_core.py --device cuda --repeats 7
step bench_eval_cuda $py scripts/bench_eval.py --device cuda --repeats 3
step bench_eval_cpu $py scripts/bench_eval.py --device cpu --repeats 3 --skip-large
step full_suite $py -m pytest -q -p no:cacheprovider -n 8 -x
exit $status
