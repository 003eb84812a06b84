#!/usr/bin/env bash
# Offline synthetic English recipe: espeak-ng speech → BiLSTM-CTC → WER/CER greedy and with an LM → transcripts.
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
#   5 transcribe asr transcribe three test files with the tuned beam search + LM, each beside its reference;
#                then a summary: WER/CER greedy, beam, beam + LM; time taken; where the model and reports
#                are; the command to try on one's own audio
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=synthetic
# config.toml sizes the demo for ~12 min of training where bf16 runs on AMX (or on a GPU); a CPU without
# AMX trains in fp32 about 4x slower, so there, unless --config is given, the smaller config.fast.toml
# keeps `make demo` under 20 min.
preset=()
case " $* " in
  *" --config "*) ;;
  *) if ! ${PYTHON:-.venv/bin/python} -c "import sys, torch
sys.exit(0 if torch.cuda.is_available() or torch.cpu._is_amx_tile_supported() else 1)"; then
       preset=(--config recipes/synthetic/config.fast.toml)
       echo "no AMX on this CPU and no GPU: the demo uses recipes/synthetic/config.fast.toml" \
         "(--config recipes/synthetic/config.toml for the full preset)"
     fi ;;
esac
source recipes/common/lib.sh
parse_args "${preset[@]}" "$@"

if in_stage 1; then
  log "stage 1: synthesize the corpus into $data"
  $py recipes/synthetic/prepare.py --config "$config" --out "$data"
fi

if in_stage 2; then word_lm 3; fi
if in_stage 3; then train_model; fi
# the test split's voices were never used in training; beam_size: a beam without LM is scored too
if in_stage 4; then beam_size=32 evaluate_sets "$data/lm3.bin" "$data/dev.jsonl" test; fi
if in_stage 5; then transcribe_first "$data/test.jsonl"; fi
finish
