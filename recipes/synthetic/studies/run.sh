#!/usr/bin/env bash
# The synthetic recipe's studies: each config here trains the demo model on a variant of the corpus, and
# every model is scored on the full preset's test split (voices with a held-out accent or variant), so
# the rows compare. About 15 minutes per study on 2 CPU cores.
#   recipes/synthetic/studies/run.sh [STUDY.toml ...]     (default: all)
set -euo pipefail
cd "$(dirname "$0")/../../.."
py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
studies=("$@")
[ ${#studies[@]} -gt 0 ] || studies=(recipes/synthetic/studies/*.toml)
$py recipes/synthetic/prepare.py --config recipes/synthetic/config.full.toml --out data/synthetic-full \
  --splits dev,test,test_text --no-progress
for config in "${studies[@]}"; do
  read -r data exp < <($py -c "
import sys, pathlib
from asr.train.config import load_run_config
train = load_run_config(sys.argv[1]).train
print(pathlib.Path(train.train_manifest).parent, train.out_dir)" "$config")
  echo "[$(date +%H:%M:%S)] $config: corpus $data, model $exp"
  $py recipes/synthetic/prepare.py --config "$config" --out "$data" --splits train,dev --no-progress
  start=$(date +%s)
  [ -f "$exp/.done" ] || { $asr train --config "$config" --resume; date +%s > "$exp/.done"; }
  echo "training: $(( $(date +%s) - start )) s"
  $asr evaluate --model "$exp/best.pt" --manifest data/synthetic-full/test.jsonl --name full-test | grep -v speaker
done
