#!/usr/bin/env bash
# FastIF's CPU backend and the diffusers UNet (PyTorch CPU) side by side, one call, same random weights.
#   bench/compare-cpu.sh [preset] [steps]     e.g. bench/compare-cpu.sh if-i-m 5
# Needs python3 with torch and an importable diffusers (PYTHONPATH); see bench/peers/diffusers_unet.py.
# Writes bench/results/cpu-<preset>-b1.json and cpu-<preset>-b1-diffusers.json, prints the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-tiny}; steps=${2:-5}
out=bench/results; mkdir -p "$out"
export FASTIF_COMMIT=$(git rev-parse --short HEAD)
dotnet run --project src/FastIF.Cli -c Release -- bench --preset "$preset" --steps "$steps" --warmup 1 \
  --json "$out/cpu-$preset-b1.json" --png /tmp/fastif-compare.png >/dev/null
dir=${FASTIF_CACHE:-$HOME/.cache/fastif}/weights/$preset-f16-s0
${PYTHON:-python3} bench/peers/diffusers_unet.py --model "$dir" --variant fp16 --steps "$steps" --warmup 1 \
  --threads "$(nproc)" --json "$out/cpu-$preset-b1-diffusers.json" >/dev/null
python3 - "$out/cpu-$preset-b1.json" "$out/cpu-$preset-b1-diffusers.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
fa, fb = a["ms_per_step"]["median"], b["ms_per_step"]["median"]
print(f"{a['preset']}: FastIF cpu {fa:.1f} ms/step, {b['backend']} {fb:.1f} ms/step, ratio {fb / fa:.2f}x")
PY
