#!/usr/bin/env bash
# Issue 36, item 4: what the model learns per CPU-hour. Figures in recipes/synthetic/README.md
# ("What a CPU-hour buys"). Run from the repository root; every stage can be run alone:
#   recipes/synthetic/studies/cpu_budget.sh [data|bench|train|eval]...   (default: all four)
# data:  5 000 training + 200 dev utterances of the full preset's design (espeak-ng, 3.76 h, ~2 min)
# bench: cpu_budget.py: audio-s per CPU-s of each design, interleaved (this CPU as it is, then AVX2 fp32)
# train: two designs from scratch, one thread each, side by side, epochs sized to ~10 CPU-minutes
#        from the bench figures (base 53, stack4 66 audio-s per CPU-s on the AMX CPU)
# eval:  greedy WER on the full preset's test split (data/synthetic-full, 300 utterances, unseen voices)
set -euo pipefail
PY=${PY:-.venv/bin/python}
ASR=${ASR:-.venv/bin/asr}
OUT=exp/cpu-budget
CFG=recipes/synthetic/studies/cpu_budget.toml
mkdir -p "$OUT"
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(data bench train eval)

# name: --set overrides (each run keeps its epoch-end checkpoints for the curve)
declare -A RUNS=(
  [base]="model.subsampling_factor=3 train.epochs=2"
  [stack4]="model.subsampling_factor=4 train.epochs=3"
)
# Also started on 2026-12-07, then stopped after 34 CPU-s so that the two above could finish in time:
#  [small4]="model.subsampling_factor=4 model.hidden_size=256 model.num_layers=3 train.epochs=6"

for stage in "${stages[@]}"; do
  case $stage in
  data)
    nice -n 5 "$PY" recipes/synthetic/prepare.py --config recipes/synthetic/config.full.toml \
      --out data/cpu-study --num-train 5000 --num-dev 200 --splits train,dev --jobs 1 --no-progress
    ;;
  bench)
    nice -n 5 "$PY" recipes/synthetic/studies/cpu_budget.py --manifest data/cpu-study/train.jsonl \
      | tee "$OUT/bench-amx.log"
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 nice -n 5 "$PY" recipes/synthetic/studies/cpu_budget.py \
      --manifest data/cpu-study/train.jsonl --fp32 --only base,stack4,conv4,wide4,small4 --rounds 1 \
      --round-seconds 25 \
      | tee "$OUT/bench-avx2-fp32.log"
    ;;
  train)
    for name in "${!RUNS[@]}"; do
      # shellcheck disable=SC2086
      ( TIMEFORMAT="$name: %R s wall, %U s user, %S s sys"
        time nice -n 5 "$ASR" train --config "$CFG" --set train.out_dir="$OUT/$name" \
          train.checkpoint_every=0 train.keep_checkpoints=6 ${RUNS[$name]} \
          > "$OUT/$name.log" 2>&1 ) 2>> "$OUT/cpu-times.txt" &
    done
    wait
    cat "$OUT/cpu-times.txt"
    ;;
  eval)
    for name in "${!RUNS[@]}"; do
      for ckpt in "$OUT/$name"/ckpt-*.pt "$OUT/$name/last.pt"; do
        [ -e "$ckpt" ] || continue
        tag=$(basename "$ckpt" .pt)
        nice -n 5 "$ASR" evaluate --model "$ckpt" --greedy --threads 1 \
          --manifest data/synthetic-full/test.jsonl --output-dir "$OUT/eval/$name" --name "$tag" > /dev/null 2>&1
        "$PY" -c 'import json, sys; s = json.load(open(sys.argv[1]))
print("%s: test WER %.2f %%, CER %.2f %%" % (sys.argv[2], 100 * s["wer"], 100 * s["cer"]))' \
          "$OUT/eval/$name/summary-$tag.json" "$name $tag"
      done
    done
    ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
