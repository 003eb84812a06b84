#!/usr/bin/env bash
# AN4 recipe: CMU census speech (alphanumeric strings, ~1 h) → BiLSTM-CTC → WER/CER → a transcript.
#
#   recipes/an4/run.sh [--stage N] [--stop-stage M] [--config FILE] [--corpus-dir DIR] [--mirror URL] [--jobs N]
#
#   0 download   an4_sphere.tar.gz (64 MB, https; [corpus] variant)   → data/an4/an4/
#   1 prepare    raw → wav, manifests train/dev/test (+ reports)       → data/an4/*.jsonl
#   2 lm         word 3-gram from the training transcripts            → data/an4/lm3.bin
#   3 train      asr train                                            → exp/an4/best.pt
#   4 evaluate   test set: greedy, then beam + LM tuned on dev        → exp/an4/summary-test*.json
#   5 transcribe asr transcribe on one test file
# --corpus-dir: an already extracted an4/ folder (stage 0 is then skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=an4 options="corpus-dir mirror"
source recipes/common/lib.sh
parse_args "$@"
corpus_dir=${corpus_dir:-$data/an4}
order=$(config_get lm.order=3)

if in_stage 0; then download_unless "$corpus_dir/etc/an4_train.transcription" "AN4"; fi
if in_stage 1; then prepare_manifests "$corpus_dir"; fi
if in_stage 2; then word_lm "$order"; fi
if in_stage 3; then train_model; fi
if in_stage 4; then evaluate_sets "$data/lm$order.bin" "$data/dev.jsonl" test; fi
if in_stage 5; then transcribe_first "$data/test.jsonl"; fi
finish
