#!/usr/bin/env bash
# The synthetic recipe's studies: each config here trains the demo model on a variant of the corpus, and
# every model is scored on the full preset's test split (voices with a held-out accent or variant), so
# the rows compare. About 15 minutes per study on 2 CPU cores.
#   recipes/synthetic/studies/run.sh [STUDY.toml ...]     (default: all)
# Corpus and training are the recipe's own stages 1 and 3 (each skips itself when up to date).
set -euo pipefail
cd "$(dirname "$0")/../../.."
py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
studies=("$@")
[ ${#studies[@]} -gt 0 ] || studies=(recipes/synthetic/studies/*.toml)
$py recipes/synthetic/prepare.py --config recipes/synthetic/config.full.toml --out data/synthetic-full \
  --splits dev,test,test_text --no-progress
for config in "${studies[@]}"; do
  exp=$($asr config get --config "$config" train.out_dir)
  recipes/synthetic/run.sh --config "$config" --stage 1 --stop-stage 1
  recipes/synthetic/run.sh --config "$config" --stage 3 --stop-stage 3
  $asr evaluate --model "$exp/best.pt" --manifest data/synthetic-full/test.jsonl --name full-test | grep -v speaker
done
