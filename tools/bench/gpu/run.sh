#!/usr/bin/env bash
# The GPU attribution benchmark, one command, on a machine with no Node.js, no npm and no network:
#   bash .gpu-bench/run.sh [--quick] [--models demo-mbert,demo-mgpt,bert-base,gpt2-medium,mgpt-1.3b]
# run from anywhere inside the repository checkout that holds .gpu-bench/ (built there by
# `npm run bench:gpu`). It unpacks the carried Node binary, dawn.node and (when the system has
# none) the Vulkan loader, generates the random checkpoints (tools/bench/make_random_*.py, numpy),
# then runs the attribution benchmark on the webgpu backend and PyTorch (CUDA when present, else
# CPU) on the same prompts, and prints one table. Environment: PYTHON (default python3),
# KN_WEBGPU_ADAPTER, VK_DRIVER_FILES, OUT (a folder: the table, the rows as JSON and the log are
# written there). Other options go to the benchmark (tools/bench/attribution.ts): --row-budget,
# --per-language, --rounds.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
cd "$ROOT"
PY="${PYTHON:-python3}"
WORK="$HERE/work"
mkdir -p "$WORK"
log() { echo "[run.sh] $*" >&2; }

unxz_to() { # unxz_to FILE.xz DEST: xz if installed, else Python's lzma
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" >"$2.tmp"; else "$PY" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1" >"$2.tmp"; fi
  mv "$2.tmp" "$2"
}

[ -x "$WORK/node" ] || { unxz_to "$HERE/node.xz" "$WORK/node"; chmod +x "$WORK/node"; }
DAWN="$HERE/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -f "$DAWN" ] || unxz_to "$DAWN.xz" "$DAWN"
log "node $("$WORK/node" --version), python $("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda")')"

# Dawn loads libvulkan.so.1 at run time; without a system copy use the carried Debian packages,
# unpacked into the folder (nothing outside it is touched).
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if [ ! -d "$WORK/sysroot/usr" ]; then
    for deb in "$HERE"/debs/*.deb; do
      if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$deb" "$WORK/sysroot"
      else "$PY" "$HERE/unpack_deb.py" "$deb" "$WORK/sysroot"; fi
    done
  fi
  export LD_LIBRARY_PATH="$WORK/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "Vulkan loader: carried libvulkan1 ($WORK/sysroot)"
fi
# The NVIDIA driver's Vulkan ICD is found in the loader's usual folders; containers often keep it
# elsewhere (see the device README): point the loader at it.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; log "VK_DRIVER_FILES=$icd"; break; fi
  done
fi
if [ -n "${VK_DRIVER_FILES:-}" ] && [ -d /usr/local/nvidia/share/glvnd/egl_vendor.d ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES="${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}"
fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/[run.sh] GPU: /' >&2 || true

# the random GPT-2 tokenizer's merges, learned once on the development machine
mkdir -p "$ROOT/.data/bench" && cp -n "$HERE"/seed-bpe-*.json "$ROOT/.data/bench/" 2>/dev/null || true

# the table, the rows (JSON) and the log go to $OUT when that is a folder (else .gpu-bench/work),
# rewritten after every model, so a run stopped by a time limit keeps what it measured
DEST="$WORK"
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then DEST="$OUT"; fi
set -o pipefail
"$WORK/node" "$HERE/lib/bench.mjs" --backends webgpu --torch-device auto --python "$PY" \
  --wasm-reference "$HERE/wasm-reference.json" --table "$DEST/table.md" --json "$DEST/rows.json" "$@" 2> >(tee "$DEST/bench.log" >&2)
