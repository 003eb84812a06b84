#!/usr/bin/env bash
# Common Voice (English) recipe: crowd-sourced read speech → BiLSTM-CTC → WER/CER → a transcript.
# Its terms need a click, so you download the release yourself (https://commonvoice.mozilla.org/datasets).
#
#   recipes/commonvoice/run.sh --archive cv-corpus-*-en.tar.gz  [--stage N] [--stop-stage M] [--config FILE] [--jobs N]
#   recipes/commonvoice/run.sh --cv-dir cv-corpus-*/en          [...]   (already extracted)
#
#   0 download   safe extraction of the tarball you downloaded      → data/commonvoice/cv-corpus-*/en/
#   1 prepare    manifests from train/dev/test.tsv (mp3 used in place) → data/commonvoice/*.jsonl
#   2 lm         word 3-gram from the training transcripts          → data/commonvoice/lm3.bin
#   3 train      asr train                                          → exp/commonvoice/best.pt
#   4 evaluate   test set: greedy, then beam + LM tuned on dev      → exp/commonvoice/summary-test*.json
#   5 transcribe asr transcribe on one test clip
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=commonvoice options="cv-dir archive"
source recipes/common/lib.sh
parse_args "$@"
order=$(config_get lm.order=3)

if in_stage 0; then
  if [ -n "$cv_dir" ]; then
    log "stage 0: using $cv_dir, nothing to extract"
  elif [ -n "$archive" ]; then
    log "stage 0: extract $archive into $data"
    $py recipes/commonvoice/prepare.py download --archive "$archive" --dir "$data"
  else
    $py recipes/commonvoice/prepare.py download  # prints how to get the release
  fi
fi
if [ -z "$cv_dir" ]; then
  # the language folder extracted in stage 0 (the newest release when there are several)
  cv_dir=$(ls -d "$data"/cv-corpus-*/en 2>/dev/null | sort | tail -n 1 || true)
fi

if in_stage 1; then
  [ -n "$cv_dir" ] || { echo "no Common Voice folder: pass --archive or --cv-dir" >&2; exit 2; }
  log "stage 1: manifests from $cv_dir into $data"
  $py recipes/commonvoice/prepare.py --config "$config" prepare --cv-dir "$cv_dir" --out "$data" --jobs "$jobs"
fi

if in_stage 2; then word_lm "$order"; fi
if in_stage 3; then train_model; fi
if in_stage 4; then evaluate_sets "$data/lm$order.bin" "$data/dev.jsonl" test; fi
if in_stage 5; then transcribe_first "$data/test.jsonl"; fi
finish
