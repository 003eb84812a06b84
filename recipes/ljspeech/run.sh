#!/usr/bin/env bash
# LJ Speech recipe: one reader, 24 h of read non-fiction → BiLSTM-CTC → WER/CER → a transcript.
#
#   recipes/ljspeech/run.sh [--stage N] [--stop-stage M] [--config FILE] [--corpus-dir DIR] [--mirror URL] [--jobs N]
#
#   0 download   LJSpeech-1.1.tar.bz2 (2.6 GB, sha256-checked) from keithito.com → data/ljspeech/LJSpeech-1.1/
#   1 prepare    manifests train/dev/test (+ reports)                  → data/ljspeech/*.jsonl
#   2 lm         word 3-gram from the training transcripts            → data/ljspeech/lm3.bin
#   3 train      asr train                                            → exp/ljspeech/best.pt
#   4 evaluate   test set: greedy, then beam + LM tuned on dev        → exp/ljspeech/summary-test*.json
#   5 transcribe asr transcribe on one test file
# --corpus-dir: an already extracted LJSpeech-1.1/ folder (stage 0 is then skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=ljspeech options="corpus-dir mirror"
source recipes/common/lib.sh
parse_args "$@"
corpus_dir=${corpus_dir:-$data/LJSpeech-1.1}
order=$(config_get lm.order=3)

if in_stage 0; then download_unless "$corpus_dir/metadata.csv" "LJ Speech"; fi
if in_stage 1; then prepare_manifests "$corpus_dir"; fi
if in_stage 2; then word_lm "$order"; fi
if in_stage 3; then train_model; fi
if in_stage 4; then evaluate_sets "$data/lm$order.bin" "$data/dev.jsonl" test; fi
if in_stage 5; then transcribe_first "$data/test.jsonl"; fi
finish
