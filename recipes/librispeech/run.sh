#!/usr/bin/env bash
# LibriSpeech recipe: read English audiobooks (OpenSLR SLR12) → BiLSTM-CTC → WER on test-clean/test-other.
#
#   recipes/librispeech/run.sh [--stage N] [--stop-stage M] [--config FILE] [--corpus-dir DIR]
#                              [--mirror URL] [--lm-mirror URL] [--jobs N]
#
#   0 download   the [corpus] splits (~60 GB of archives for all 7) → data/librispeech/LibriSpeech/
#   1 prepare    manifests per split, train.jsonl = [corpus] train_splits → data/librispeech/*.jsonl
#   2 lm         official 3-gram + word list from OpenSLR SLR11, lower-cased → data/librispeech/lm/
#   3 train      asr train                                             → exp/librispeech/best.pt
#   4 evaluate   test-clean and test-other: greedy, then beam + LM tuned on dev-clean
#   5 transcribe asr transcribe on one test-clean file
# --corpus-dir: an already extracted LibriSpeech/ folder (stage 0 is then skipped).
# --mirror: another OpenSLR mirror for SLR12, e.g. https://us.openslr.org/resources/12;
# --lm-mirror: the same for SLR11, e.g. https://us.openslr.org/resources/11.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=5
config=recipes/librispeech/config.toml
corpus_dir=
mirror=
lm_mirror=
jobs=4
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --corpus-dir) corpus_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --lm-mirror) lm_mirror=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
read -r data exp dev arpa < <($py -c "
import sys, pathlib
from asr.config import load_toml
from asr.train.config import load_run_config
train = load_run_config(sys.argv[1]).train
arpa = load_toml(sys.argv[1]).get('lm', {}).get('arpa', '3-gram.pruned.1e-7.arpa.gz')
print(pathlib.Path(train.train_manifest).parent, train.out_dir, train.dev_manifest, arpa.removesuffix('.gz'))" "$config")
given_corpus=$corpus_dir
corpus_dir=${corpus_dir:-$data/LibriSpeech}
config_hash=$(sha256sum "$config" | cut -c1-16)
mkdir -p "$exp"
log() { echo "[$(date +%H:%M:%S)] $*"; }
start=$(date +%s)

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  if [ -n "$given_corpus" ]; then
    log "stage 0: using $corpus_dir, skipping the download"
  else
    log "stage 0: download LibriSpeech into $data (resumable; re-run after an interruption)"
    $py recipes/librispeech/prepare.py --config "$config" download --dir "$data" ${mirror:+--mirror "$mirror"}
  fi
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: manifests from $corpus_dir into $data"
  $py recipes/librispeech/prepare.py --config "$config" prepare --corpus-dir "$corpus_dir" --out "$data" --jobs "$jobs"
fi

lm="$data/lm/$arpa"
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: official LibriSpeech LM ($arpa) and word list into $data/lm"
  $py recipes/librispeech/prepare.py --config "$config" lm --dir "$data" ${lm_mirror:+--mirror "$lm_mirror"}
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  marker="$exp/.train.done"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$config_hash" ] && [ -f "$exp/best.pt" ]; then
    log "stage 3: $exp/best.pt is up to date for $config, skipping training"
  else
    log "stage 3: train (resumes if interrupted)"
    $asr train --config "$config" --resume
    echo "$config_hash" > "$marker"
  fi
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  for test in test-clean test-other; do
    [ -f "$data/$test.jsonl" ] || continue
    log "stage 4: evaluate on $test (greedy)"
    $asr evaluate --model "$exp/best.pt" --manifest "$data/$test.jsonl" --name "$test"
  done
  if [ -f "$lm" ]; then
    if [ ! -f "$exp/decoder-tuned.json" ] || [ "$exp/best.pt" -nt "$exp/decoder-tuned.json" ]; then
      log "stage 4: tune lm_weight / word_score on $dev"
      $asr lm tune --model "$exp/best.pt" --manifest "$dev" --lm "$lm" -o "$exp/decoder-tuned.json"
    fi
    for test in test-clean test-other; do
      [ -f "$data/$test.jsonl" ] || continue
      $asr evaluate --model "$exp/best.pt" --manifest "$data/$test.jsonl" --name "$test-beam-lm" \
        --decoder-config "$exp/decoder-tuned.json"
    done
  fi
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  sample=$($py -c "import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r['audio'] + '\t' + r['text'])" "$data/test-clean.jsonl")
  audio="$data/${sample%%$'\t'*}"
  log "stage 5: transcribe $audio"
  echo "reference:  ${sample#*$'\t'}"
  echo "transcript: $($asr transcribe "$audio" --model "$exp/best.pt")"
fi
log "done in $(( $(date +%s) - start )) s"
