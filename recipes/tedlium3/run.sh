#!/usr/bin/env bash
# TED-LIUM 3 recipe: 452 h of TED talks → BiLSTM-CTC → WER/CER on the legacy test set → a transcript.
#
#   recipes/tedlium3/run.sh [--stage N] [--stop-stage M] [--config FILE] [--corpus-dir DIR] [--mirror URL] [--jobs N]
#
#   0 download   TEDLIUM_release-3.tgz (~51 GB, sha256-checked) from OpenSLR SLR51 → data/tedlium3/TEDLIUM_release-3/
#   1 prepare    cut stm segments out of the sph talks into flac, manifests → data/tedlium3/*.jsonl
#   2 lm         word 3-gram from the training transcripts            → data/tedlium3/lm3.bin
#   3 train      asr train                                            → exp/tedlium3/best.pt
#   4 evaluate   test set: greedy, then beam + LM tuned on dev        → exp/tedlium3/summary-test*.json
#   5 transcribe asr transcribe on one test utterance
# --corpus-dir: an already extracted TEDLIUM_release-3/ folder (stage 0 is then skipped).
# --mirror: e.g. https://us.openslr.org/resources/51 or https://openslr.elda.org/resources/51
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=tedlium3 options="corpus-dir mirror"
source recipes/common/lib.sh
parse_args "$@"
corpus_dir=${corpus_dir:-$data/TEDLIUM_release-3}
order=$(config_get lm.order=3)

if in_stage 0; then download_unless "$corpus_dir/legacy/test/stm" "TED-LIUM 3"; fi
if in_stage 1; then prepare_manifests "$corpus_dir"; fi
if in_stage 2; then word_lm "$order"; fi
if in_stage 3; then train_model; fi
if in_stage 4; then evaluate_sets "$data/lm$order.bin" "$data/dev.jsonl" test; fi
if in_stage 5; then transcribe_first "$data/test.jsonl"; fi
finish
