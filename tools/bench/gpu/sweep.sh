# The second H100 run (docs/gpu-bench/run-2026-11-27-sweep): row-budget sweep, tfjs submit batching, a CPU profile (bert-base), demo-mbert and gpt2-medium at a large budget
export PYTHONUNBUFFERED=1 PYTHON=python3
mkdir -p .data/bench $OUT/prof; cp .gpu-bench/seed-bpe-*.json .data/bench/
python3 tools/bench/make_random_bert.py --out .data/bench/bert-base-random >/dev/null 2>&1 &
python3 tools/bench/make_random_gpt2.py --shape gpt2-medium --out .data/bench/gpt2-medium-random >/dev/null 2>&1 &
wait
cfg() { # name, timeout, args...
  local name=$1 t=$2; shift 2
  mkdir -p /tmp/$name
  OUT=/tmp/$name timeout $t bash .gpu-bench/run.sh --python false "$@" > /tmp/$name.log 2>&1; echo "== $name rc=$? $*  flags=${KN_TFJS_FLAGS:-}"
  grep -E '^\| (bert|demo|gpt2)' /tmp/$name/table.md | cut -d'|' -f2,4,6,7 ; grep -E 'TS round|loaded in' /tmp/$name.log | sed 's/prompts: .*//' | cut -c1-160
  grep -E '^\| (unpatched|blanked|patched|rest|total)' /tmp/$name.log | cut -d'|' -f2,3 | sed 's/  */ /g'
}
B="--models bert-base-random --per-language 8 --rounds 2"
cfg rb16384 60 $B --row-budget 16384
cfg rb32768 60 $B --row-budget 32768
KN_TFJS_FLAGS=WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=200 cfg rb16384submit200 60 $B --row-budget 16384
NODE_OPTIONS="--cpu-prof --cpu-prof-dir=$OUT/prof" cfg rb16384prof 70 $B --row-budget 16384
cfg mbert16384 50 --models demo-mbert --per-language 8 --rounds 2 --row-budget 16384
cfg gpt2m16384 70 --models gpt2-medium --per-language 8 --rounds 1 --row-budget 16384
ls -la $OUT/prof
