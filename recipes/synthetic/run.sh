#!/usr/bin/env bash
# Offline synthetic English recipe: espeak-ng speech → BiLSTM-CTC → greedy WER/CER → a transcript.
#
#   recipes/synthetic/run.sh [--stage N] [--stop-stage M] [--config FILE]
#
# Stages (each skips itself when its output is up to date for the config):
#   0 download   nothing to download: the corpus is synthesized offline
#   1 prepare    synthesize the corpus and write manifests      → data/synthetic/
#   2 lm         word 3-gram KenLM from the training text only   → data/synthetic/lm3.bin (+ .words.txt)
#   3 train      asr train                                      → exp/synthetic/best.pt
#   4 evaluate   test split (unseen voices): greedy, beam without LM, beam + LM with weights tuned on dev
#                                                              → exp/synthetic/summary-test*.json
#   5 transcribe asr transcribe on one test file
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=5
config=recipes/synthetic/config.toml
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
# The corpus folder and the experiment folder both come from the config.
read -r data exp < <($py -c "
import sys, pathlib
from asr.train.config import load_run_config
train = load_run_config(sys.argv[1]).train
print(pathlib.Path(train.train_manifest).parent, train.out_dir)" "$config")
config_hash=$(sha256sum "$config" | cut -c1-16)
mkdir -p "$exp"
log() { echo "[$(date +%H:%M:%S)] $*"; }
start=$(date +%s)

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: synthesize the corpus into $data"
  $py recipes/synthetic/prepare.py --config "$config" --out "$data"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  if [ -f "$data/lm3.bin" ] && [ "$data/lm3.bin" -nt "$data/train_text.txt" ]; then
    log "stage 2: $data/lm3.bin is up to date, skipping"
  else
    log "stage 2: build KenLM tools (once) and a word 3-gram from $data/train_text.txt"
    make -s lm-tools
    $asr lm build --text "$data/train_text.txt" --order 3 -o "$data/lm3.bin"
  fi
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  marker="$exp/.train.done"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$config_hash" ] && [ -f "$exp/best.pt" ]; then
    log "stage 3: $exp/best.pt is up to date for $config, skipping training"
  else
    log "stage 3: train (progress below; resumes if interrupted)"
    $asr train --config "$config" --resume
    echo "$config_hash" > "$marker"
  fi
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: evaluate on the test split (voices never used in training)"
  $asr evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" --name test
  $asr evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" --name test-beam --beam-size 32
  if [ -f "$data/lm3.bin" ]; then
    if [ ! -f "$exp/decoder-tuned.json" ] || [ "$exp/best.pt" -nt "$exp/decoder-tuned.json" ]; then
      log "stage 4: tune lm_weight / word_score on dev"
      $asr lm tune --model "$exp/best.pt" --manifest "$data/dev.jsonl" --lm "$data/lm3.bin" -o "$exp/decoder-tuned.json"
    fi
    $asr evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" --name test-beam-lm \
      --decoder-config "$exp/decoder-tuned.json"
  fi
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  sample=$($py -c "import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r['audio'] + '\t' + r['text'])" "$data/test.jsonl")
  audio="$data/${sample%%$'\t'*}"
  log "stage 5: transcribe $audio"
  echo "reference:  ${sample#*$'\t'}"
  echo "transcript: $($asr transcribe "$audio" --model "$exp/best.pt")"
fi
log "done in $(( $(date +%s) - start )) s"
