#!/usr/bin/env bash
# Prepares one visit to the lent GPU machine (see ../shared/docs/remote-gpu.md): bundles the CLI, the test suite and
# the golden fixtures into .device/ (git-ignored), and prints the single command to hand to the device tool's `run`
# (with carry [".device"]). Everything a visit measures lands under $OUT there.
#   tools/gpu-visit.sh            # then: run(command=<printed line>, carry=[".device"])
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
../shared/tools/device-bundle.sh --with ../shared/fixtures/if --with ../shared/fixtures/png src/FastIF.Cli/FastIF.Cli.csproj tests/FastIF.Tests/FastIF.Tests.csproj
commit=$(git rev-parse --short HEAD)
cat <<CMD
nvidia-smi > \$OUT/nvidia-smi.txt; source .device/setup.sh && export FASTIF_FIXTURES=\$PWD/.device/extra FASTIF_COMMIT=$commit && .device/bin/FastIF.Cli/FastIF.Cli info --verbose > \$OUT/info.txt 2>&1; .device/bin/FastIF.Cli/FastIF.Cli kernels --arch sm_90 > \$OUT/kernels.txt 2>&1; .device/bin/FastIF.Tests/FastIF.Tests > \$OUT/tests.txt 2>&1; tail -5 \$OUT/tests.txt
CMD
