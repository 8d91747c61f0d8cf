#!/usr/bin/env bash
# Prepares one visit to the lent GPU machine (see ../shared/docs/remote-gpu.md): bundles the CLI, the test suite, the
# golden fixtures, the peer script and (when a diffusers checkout is at hand) diffusers' sources into .device/
# (git-ignored), writes .device/visit.sh, and prints the command to hand to the device tool's `run` with carry
# [".device"]. Everything a visit measures lands under $OUT there, packed into a few files.
#   tools/gpu-visit.sh [DIFFUSERS_SRC]   # e.g. a `git archive v0.40.0 src/diffusers` unpacked; omit to skip the peers
# On the GPU machine:  VISIT_SECONDS=540 bash .device/visit.sh STAGE...   (every command gets only the time left, so the
# results come back packed before the device tool's limit; stages in order of what a 15-minute lease must bring first)
#   first   info, kernels, the suite (then the tensor-core attention tests in their own process), the timing table (IF-I-XL
#           and IF-II-L, B=2 then 1, fp16, eager and graph), then B=2 with --upsample nearest, --attention mma and
#           --attention flash: the evidence issue 6 asks for, in one call
#   tests   the whole suite (FASTIF_BIG_PARITY=1: real-size stage I/II forwards against the CPU too)
#   bench   peaks, then IF-I-XL and IF-II-L at B=1 and 2, fp16, eager and graph (FASTIF_BENCH_PRESETS to change); B=2 again with
#           --attention flash, and with --upsample nearest (diffusers' upsample-then-conv instead of the sub-pixel conv)
#   peers   diffusers eager and torch.compile on the same weights and shapes
#   profile one eager UNet call per op (fastif profile) for each preset
#   cascade real-size random IF-I-XL + T5-XXL and IF-II-L snapshots, then `fastif cascade` on the GPU (per-stage figures)
#   modes   every sampling mode on those snapshots with the fused step (time, load, peak device memory per mode)
# To rehearse a visit here without a GPU (bundle, setup, fixtures, the deadline and the packed results), run a stage on
# the CUDA emulator (tools/cuda-emulator): OUT=/tmp/out FASTIF_CUDA_EMULATOR=$PWD/build/cuda-emulator/libfastif_cuda_emulator.so
# VISIT_SECONDS=900 bash .device/visit.sh tests. Its 'tests' stage also makes real-size random weights (FASTIF_BIG_PARITY,
# about 11 GB under /tmp/fastif-cache) and runs them on one CPU thread, so it ends at the deadline there; bench refuses the
# emulator.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
mkdir -p .git/info && touch .git/info/exclude
diffusers=${1:-}
extra=(--with ../shared/fixtures/if --with ../shared/fixtures/png --with ../shared/fixtures/t5 --with ../shared/docs --with bench/peers)
if [ -n "$diffusers" ]; then
  [ -d "$diffusers/diffusers" ] || { echo "gpu-visit: $diffusers has no diffusers/ package folder" >&2; exit 2; }
  extra+=(--with "$diffusers")
fi
../shared/tools/device-bundle.sh "${extra[@]}" src/FastIF.Cli/FastIF.Cli.csproj tests/FastIF.Tests/FastIF.Tests.csproj
commit=$(git rev-parse --short HEAD)
dsrc=$( [ -n "$diffusers" ] && basename "$diffusers" || true )
cat > .device/visit.sh <<VISIT
#!/usr/bin/env bash
# One GPU visit for commit $commit (written by tools/gpu-visit.sh). Results go to \$OUT.
set -uo pipefail
cd "\$(dirname "\${BASH_SOURCE[0]}")/.."
source .device/setup.sh
set +e  # setup.sh sets -e; one failing stage must not end the visit
export FASTIF_FIXTURES=\$PWD/.device/extra FASTIF_COMMIT=$commit FASTIF_CACHE=/tmp/fastif-cache
fastif=.device/bin/FastIF.Cli/FastIF.Cli
# The tests look for ../shared/docs beside the repository.
mkdir -p ../shared && [ -e ../shared/docs ] || ln -s "\$PWD/.device/extra/docs" ../shared/docs
res=\$OUT/results && mkdir -p \$res
presets=\${FASTIF_BENCH_PRESETS:-"if-i-xl if-ii-l"}
budget=\${VISIT_SECONDS:-0} start=\$SECONDS
# Seconds left of VISIT_SECONDS (no limit when unset); a command that would get under 20 s is skipped and listed.
left() { if [ "\$budget" -gt 0 ]; then echo \$((budget - (SECONDS - start))); else echo 86400; fi; }
within() {
  local l; l=\$(left)
  if [ "\$l" -lt 20 ]; then echo "skipped at the deadline: \$*" | tee -a \$res/skipped.txt >&2; return 124; fi
  timeout --kill-after=5 "\$l" "\$@"
}
probe() {
  nvidia-smi > \$res/nvidia-smi.txt 2>&1
  \$fastif info --verbose > \$res/info.txt 2>&1
  within \$fastif kernels --arch sm_90 > \$res/kernels.txt 2>&1; tail -1 \$res/kernels.txt
}
suite() {
  FASTIF_BIG_PARITY=1 within .device/bin/FastIF.Tests/FastIF.Tests > \$res/tests.txt 2>&1
  grep -E "Total:|\\[FAIL\\]" \$res/tests.txt | head -40
  # The tensor-core attention kernel's first GPU run, in its own process: a fault there cannot poison the suite's context.
  FASTIF_MMA_TESTS=1 within .device/bin/FastIF.Tests/FastIF.Tests -class FastIF.Tests.Cuda.MmaAttentionTests > \$res/tests-mma.txt 2>&1
  grep -E "Total:|\\[FAIL\\]" \$res/tests-mma.txt | head -10
}
# bench PRESET BATCH NAME [FLAGS...]: one timed run into cuda-PRESET-bBATCH-fp16NAME.json
bench() {
  local p=\$1 b=\$2 n=\$3; shift 3
  within \$fastif bench --backend cuda --precision fp16 --preset \$p --batch \$b --steps 10 --warmup 2 "\$@" \\
    --json \$res/cuda-\$p-b\$b-fp16\$n.json > \$res/bench-\$p-b\$b\$n.txt 2>&1; tail -8 \$res/bench-\$p-b\$b\$n.txt
}
table() {
  within \$fastif bench --backend cuda --peaks > \$res/peaks.txt 2>&1; cat \$res/peaks.txt
  for p in \$presets; do for b in 2 1; do bench \$p \$b "" --graph both; done; done
}
# The variants issue 6 asks to decide by measurement, each beside the table's default run of the same shape:
# diffusers' upsample-then-conv against the sub-pixel convolution, the tensor-core and the CUDA-core fused attention
# kernels against the GEMM path.
variants() {
  for p in \$presets; do
    bench \$p 2 -nearest --graph on --upsample nearest
    bench \$p 2 -mma --graph on --attention mma
    bench \$p 2 -flash --graph on --attention flash
  done
}
for stage in "\$@"; do
  case \$stage in
    first) probe; suite; table; variants ;;
    tests) probe; suite ;;
    bench) table; variants ;;
    peers)
      [ -d .device/extra/$dsrc/diffusers ] || { echo "no diffusers bundled: run tools/gpu-visit.sh DIFFUSERS_SRC"; continue; }
      export PYTHONPATH=\$PWD/.device/extra/$dsrc
      for p in \$presets; do
        dir=\$FASTIF_CACHE/weights/\$p-f16-s0
        [ -f "\$dir/config.json" ] || { echo "no cached \$p weights in \$dir: run the bench stage first"; continue; }
        for b in 1 2; do for mode in eager compile; do
          flag=\$( [ \$mode = compile ] && echo --compile || true )
          within python3 .device/extra/peers/diffusers_unet.py --model "\$dir" --variant fp16 --device cuda --dtype fp16 --batch \$b \\
            --steps 20 --warmup 3 \$flag --json \$res/diffusers-\$mode-\$p-b\$b-fp16.json > \$res/peer-\$mode-\$p-b\$b.txt 2>&1
          grep -E '"median"' \$res/peer-\$mode-\$p-b\$b.txt || tail -3 \$res/peer-\$mode-\$p-b\$b.txt
        done; done
      done ;;
    cascade)
      # Real-size random snapshots (IF-I-XL + T5-XXL, IF-II-L), then the whole cascade on the GPU with per-stage figures.
      snap=/tmp/fastif-snap; mkdir -p \$snap
      # A snapshot around the bench stage's cached random UNet when there is one (same seed and dtype: no second 9 GB to
      # generate), its scheduler folders taken from a tiny snapshot of the same stage (IF's scheduler configs are per stage).
      snapshot() {
        [ -f \$snap/\$2/unet/config.json ] && return
        cache=\$FASTIF_CACHE/weights/\$1-f16-s0
        if [ -f \$cache/config.json ]; then
          rm -rf \$snap/\$2.tiny && within \$fastif weights random --preset \$3 --snapshot --out \$snap/\$2.tiny > /dev/null 2>&1
          mkdir -p \$snap/\$2 && cp -r \$snap/\$2.tiny/*scheduler \$snap/\$2/ && ln -sfn \$cache \$snap/\$2/unet && rm -rf \$snap/\$2.tiny
        else
          within \$fastif weights random --preset \$1 --snapshot --out \$snap/\$2 > /dev/null 2>&1
        fi
      }
      snapshot if-i-xl if1 tiny
      [ -f \$snap/if1/text_encoder/config.json ] || within \$fastif weights random --preset t5-xxl --dtype bf16 --out \$snap/if1/text_encoder > /dev/null 2>&1
      mkdir -p \$snap/if1/tokenizer && cp .device/extra/t5/spiece.model \$snap/if1/tokenizer/
      snapshot if-ii-l if2 tiny-ii
      within \$fastif cascade --stage1 \$snap/if1 --stage2 \$snap/if2 --variant1 fp16 --variant2 fp16 --backend cuda \
        --prompt "a photo of a red panda astronaut, oil painting" --json \$res/cascade-cuda.json --out \$res/cascade.png \
        --out-stage1 \$res/cascade-stage1.png > \$res/cascade.txt 2>&1; tail -5 \$res/cascade.txt ;;
    modes)
      # Every sampling mode on the cascade stage's real-size random snapshots, fused step on the GPU: time, load time and
      # peak device memory per mode in mode-*.json (graph on; generate also eager and with flash attention).
      snap=/tmp/fastif-snap
      { [ -f \$snap/if1/unet/config.json ] && [ -f \$snap/if2/unet/config.json ]; } || { echo "run the cascade stage first: it makes the snapshots"; continue; }
      python3 - \$res/mask.png \$res/map.png <<'PY'
import struct, sys, zlib
def png(path, f, n=64):
    raw = b"".join(b"\x00" + bytes(f(x, y) for x in range(n)) for y in range(n))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png(sys.argv[1], lambda x, y: 255 if 16 <= x < 48 and 16 <= y < 48 else 0)
png(sys.argv[2], lambda x, y: x * 4)
PY
      \$fastif embeds random --dim 4096 --out \$res/a.safetensors > /dev/null && \$fastif embeds random --dim 4096 --seed 1 --out \$res/b.safetensors > /dev/null
      c="--model \$snap/if1 --variant fp16 --backend cuda --timesteps fast27 --embeds \$res/a.safetensors"
      mode() { n=\$1; shift; within \$fastif "\$@" --json \$res/mode-\$n.json --out \$res/mode-\$n.png > \$res/mode-\$n.txt 2>&1; echo "\$n: \$(tail -1 \$res/mode-\$n.txt)"; }
      mode generate generate \$c
      mode generate-eager generate \$c --graph off
      mode generate-flash generate \$c --attention flash
      mode edit edit \$c --image \$res/mode-generate.png --strength 0.6
      mode inpaint inpaint \$c --image \$res/mode-generate.png --mask \$res/mask.png
      mode repaint inpaint \$c --image \$res/mode-generate.png --mask \$res/mask.png --repaint
      mode anagram anagram \$c --embeds \$res/b.safetensors --views identity,flip_v
      mode hybrid hybrid \$c --embeds \$res/b.safetensors
      mode diffdiff diffdiff \$c --image \$res/mode-generate.png --map \$res/map.png
      mode upscale upscale --model \$snap/if2 --variant fp16 --backend cuda --timesteps smart27 --embeds \$res/a.safetensors --low-res \$res/mode-generate.png --size 256 ;;
    profile)
      for p in \$presets; do within \$fastif profile --backend cuda --preset \$p --batch 1 --json \$res/profile-\$p-b1.json > \$res/profile-\$p.txt 2>&1; done ;;
    *) echo "unknown stage \$stage (first, tests, bench, peers, profile, cascade, modes)" ;;
  esac
done
tar -C \$OUT -czf \$OUT/results.tar.gz results && rm -rf \$res
VISIT
echo "run(command=\"VISIT_SECONDS=540 bash .device/visit.sh first\", carry=[\".device\"], timeout_s=600)   # then, with device time left: peers, profile, cascade, modes"
