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

recipe=librispeech options="corpus-dir mirror lm-mirror" jobs=4
source recipes/common/lib.sh
parse_args "$@"
given_corpus=$corpus_dir
corpus_dir=${corpus_dir:-$data/LibriSpeech}
arpa=$(config_get lm.arpa=3-gram.pruned.1e-7.arpa.gz)
arpa=${arpa%.gz}

if in_stage 0; then
  if [ -n "$given_corpus" ]; then
    log "stage 0: using $corpus_dir, skipping the download"
  else
    log "stage 0: download LibriSpeech into $data (resumable; re-run after an interruption)"
    $py recipes/librispeech/prepare.py --config "$config" download --dir "$data" ${mirror:+--mirror "$mirror"}
  fi
fi

if in_stage 1; then prepare_manifests "$corpus_dir"; fi

lm="$data/lm/$arpa"
if in_stage 2; then
  log "stage 2: official LibriSpeech LM ($arpa) and word list into $data/lm"
  $py recipes/librispeech/prepare.py --config "$config" lm --dir "$data" ${lm_mirror:+--mirror "$lm_mirror"}
fi

skip_missing_tests=1  # test-clean / test-other: only the [corpus] splits prepared
if in_stage 3; then train_model; fi
if in_stage 4; then evaluate_sets "$lm" "$dev" test-clean test-other; fi
if in_stage 5; then transcribe_first "$data/test-clean.jsonl"; fi
finish
