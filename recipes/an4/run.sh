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

recipe=an4 corpus_subdir=an4 download_marker=etc/an4_train.transcription corpus_name=AN4
source recipes/common/corpus_run.sh "$@"
