# The first H100 run of 2026-11-27 (docs/gpu-bench/run-2026-11-27-{a,b,c}): all five models, 8 prompts per language,
# the row budget 1024 and 8192 for BERT-base, the 1.3 B row in full; the 1.3 B checkpoint is generated in the background.
#   run(command="bash .gpu-bench/full-run.sh 2>&1", carry=[".gpu-bench"], timeout_s=590)
export PYTHONUNBUFFERED=1 PYTHON=python3; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; ldconfig -p | grep -c vulkan; ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 | head; nproc;
mkdir -p .data/bench $OUT/a $OUT/b $OUT/c; cp .gpu-bench/seed-bpe-*.json .data/bench/;
(python3 tools/bench/make_random_gpt2.py --shape mgpt-1.3b --out .data/bench/mgpt-1.3b-random > /tmp/gen.log 2>&1; echo "gen rc=$?" >> /tmp/gen.log) & GEN=$!;
OUT=$OUT/a timeout 270 bash .gpu-bench/run.sh --models demo-mbert,demo-mgpt,bert-base-random,gpt2-medium --per-language 8 > /tmp/a.log 2>&1; echo "A rc=$?"; grep -v '^\[bench\]   TS round' /tmp/a.log | tail -45 | cut -c1-400;
OUT=$OUT/b timeout 70 bash .gpu-bench/run.sh --models bert-base-random --per-language 8 --row-budget 8192 > /tmp/b.log 2>&1; echo "B rc=$?"; tail -12 /tmp/b.log | cut -c1-400; rm -f $OUT/b/bench.log;
wait $GEN; tail -3 /tmp/gen.log;
OUT=$OUT/c timeout 190 bash .gpu-bench/run.sh --models mgpt-1.3b > /tmp/c.log 2>&1; echo "C rc=$?"; tail -14 /tmp/c.log | cut -c1-400
