#!/usr/bin/env bash
# Rebuild the shipped default model (data/models/synthetic-en/) end to end, from an empty data/.
#
#   recipes/synthetic/rebuild_default_model.sh [--stage N] [--stop-stage M] [--jobs N] [--model-dir DIR]
#   DRY_RUN=1 recipes/synthetic/rebuild_default_model.sh --stage 7 --stop-stage 7   # print, run nothing
#
# The model was trained in stages, each from the one before (docs/model-history.md tells what each
# stage measured; data/models/README.md is the model card). This script runs the same stages with the
# same data and settings. Stages 1-10 are the model's own stages (8 was tried and not shipped):
#   0 engines      the text-to-speech engines (install_engines.sh: only what is missing)
#   1 espeak-only  the full preset (espeak-ng, 50 000 utterances, 38 h) rendered into data/synthetic-full;
#                  12 epochs, then a second 5-epoch cycle from the best weights, the last 3 epochs averaged
#                  (run on one H100 in 7 min; a 2-core CPU needs days)          -> exp/synthetic-full-ft
#   2 multi        the multi-engine preset rendered once, at 30 000 utterances, into data/synthetic-multi
#                  (the later stages take their shares from it); 3 epochs on its first 4 500 -> exp/synthetic-multi
#   3 +espeak 2k   + 2 000 espeak-ng utterances, 2 epochs                    -> exp/synthetic-multi-2
#   4 10k + 4k     the first 10 000 multi-engine + 4 000 espeak-ng, 8 epochs  -> exp/synthetic-multi-3
#   5 10k + 8k     8 000 espeak-ng instead of 4 000, 2 epochs                -> exp/synthetic-multi-4
#   6 20k + 20k    20 000 + 20 000, 1 epoch                                   -> exp/synthetic-multi-5
#   7 new clips    multi-engine 20 000-30 000 + espeak-ng 20 000-30 000 (what 6 had not heard), 1 epoch
#                                                                           -> exp/synthetic-multi-7
#   8 (not shipped: nothing to do)
#   9 20k + 30k    one epoch over 37.8 h (20 000 multi-engine + 30 000 espeak-ng), last 3 checkpoints averaged
#                                                                           -> exp/synthetic-multi-9
#  10 again        the same manifest once more (seed 1), last 3 checkpoints averaged -> exp/synthetic-multi-10
#  11 lm           the LM text, the word 3-gram LM and its lexicon (the LM block below) -> DIR/lm3.bin, lm3.words.txt
#  12 ship         stage 10 as float16 -> DIR/model.pt; lm_weight/word_score tuned on the multi-engine dev
#                  set (for the record) and DIR/decoder.json written with the settings the card names
#  13 evaluate     benchmarks/accuracy.py on the test splits (the card's table) -> exp/rebuild-default-model/accuracy
# DIR is --model-dir, default data/models/synthetic-en: only stages 11 and 12 write there.
#
# Each step is skipped when its output is there and was made by the same command from the same inputs
# (a hash of both in exp/rebuild-default-model/); a training step interrupted part-way resumes from its
# last.pt (asr train --resume). Rendering is prepare.py's own resume. A stage re-run with new inputs makes
# every later stage run again. DRY_RUN=1 prints every command of the chosen stages (ignoring what is up to
# date) and runs none. --jobs N: rendering processes and training threads (2, as stages 2-10 were run).
#
# Where this differs from the commands that were run (docs/model-history.md has them):
# - The stages rendered each preset at a growing --num-train, in place (data/synthetic-multi at 4 500,
#   10 000, 20 000, 30 000; espeak-ng into data/synthetic-full-2k and -4k). prepare.py plans the corpus
#   sentence by sentence from the seed, so a render with more utterances holds every utterance of a
#   smaller one (first_utterances.py): here each preset is rendered once and each stage takes its share.
#   The espeak-ng shares come from stage 1's corpus, which is the same config rendered with 50 000.
# - The models that a later stage started from as shipped (float16: stages 1, 3, 6, 7) are exported into
#   their run's folder (exp/.../model.pt) instead of data/models/, which only the last stages write.
# - The lm_weight / word_score tunes of stages 1 and 4-9 only chose decoder settings that later stages
#   replaced; stage 12 runs the last one (stage 10's) and writes the settings that were shipped.
# - The audio is today's prepare.py: stage 2's corpus was rendered before two fixes (sox speaker warps,
#   unseeded Piper) and stage 4's before cut-short renders were refused, so re-rendered clips differ a
#   little, as they did between the team's own renderings (docs/model-history.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=synthetic
options="model-dir"
source recipes/common/lib.sh
parse_args --config recipes/synthetic/config.multi.toml --stop-stage 13 "$@"
model_dir=${model_dir:-data/models/synthetic-en}

full_cfg=recipes/synthetic/config.full.toml
multi_cfg=recipes/synthetic/config.multi.toml
full=data/synthetic-full # stage 1's corpus: config.full.toml's train_manifest folder
multi=$data              # data/synthetic-multi: config.multi.toml's
multi_num_train=30000    # the largest multi-engine render a stage used (stage 7)
state=exp/rebuild-default-model
threads=$jobs

# ---- The language model and decoder settings: the one place they are set ---------------------------
# A word 3-gram KenLM (trie, 8-bit quantized) over 100 000 words (issue 33, 2026-12-07): lm_text.py
# gathers fortunes, WordNet examples and glosses and the World English Bible (every preset's dev/test
# sentences kept out) and wordfreq's list; the vocabulary is chosen across them (recipe README, "The
# default model's LM"). That broad LM is mixed (linear interpolation, asr lm build --mix) with a 3-gram of
# the multi-engine corpus's own training text, the mixture weight chosen by EM for the lowest perplexity on
# the two dev sets (0.604 in-domain): dev perplexity 421 -> 345, WER 19.70 -> 19.60 / 7.35 -> 7.10. Its
# word list is the decoder's lexicon. lm_weight / word_score: the best on the two dev sets together.
lm_text_dir=data/lm-text
lm_texts=(fortunes wordnet wordnet-glosses web)
lm_vocab_size=100000
lm_order=3
lm_quantize_bits=8
lm_name=lm3 # DIR/lm3.bin and DIR/lm3.words.txt (asr lm build writes the word list beside the LM)
lm_weight=0.5
word_score=-2
tune_lm_weights=0.5,0.6,0.7,0.8,0.9
tune_word_scores=-2,-1,0,1
# -------------------------------------------------------------------------------------------------------

run() {
  if [ -n "${DRY_RUN:-}" ]; then echo "+ $*"; else "$@"; fi
}

need() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || { echo "stage $current needs $f: run the stage that makes it first" >&2; exit 1; }
  done
}

# step NAME OUTPUT INPUT... -- COMMAND...: COMMAND makes OUTPUT from the INPUTs. Skipped when OUTPUT exists
# and exp/rebuild-default-model/NAME holds the hash of this COMMAND and these INPUTs' contents.
step() {
  local name=$1 output=$2 inputs=()
  shift 2
  while [ "$1" != "--" ]; do inputs+=("$1"); shift; done
  shift
  if [ -n "${DRY_RUN:-}" ]; then echo "+ $*"; return; fi
  need "${inputs[@]}"
  # the key: the command's arguments (not the program's path, nor the thread count) and the inputs' contents
  local key arg args=()
  for arg in "${@:2}"; do [[ $arg == train.num_threads=* ]] || args+=("$arg"); done
  key=$({ printf '%s\n' "${args[*]}"; sha256sum "${inputs[@]}" | cut -c1-64; } | sha256sum | cut -c1-16)
  if [ -e "$output" ] && [ "$(cat "$state/$name" 2>/dev/null)" = "$key" ]; then
    log "stage $current: $output is up to date, skipping"
    return
  fi
  mkdir -p "$state"
  rm -f "$state/$name"
  # a training run interrupted part-way with the same command and inputs continues from its last.pt
  if [ "${1:-}" = "$asr" ] && [ "${2:-}" = train ] && [ "$(cat "$state/$name.started" 2>/dev/null)" = "$key" ]; then
    set -- "$@" --resume
  fi
  echo "$key" > "$state/$name.started"
  log "stage $current: $*"
  "$@"
  echo "$key" > "$state/$name"
}

# train NAME OUT_DIR RESULT INIT MANIFEST [SECTION.KEY=VALUE...]: asr train on the multi-engine preset's
# config from INIT on MANIFEST into OUT_DIR (RESULT: best.pt or averaged.pt), 2 threads as on the CPU.
train() {
  local name=$1 out=$2 result=$3 init=$4 manifest=$5
  shift 5
  step "$name" "$out/$result" "$init" "$manifest" "$multi/dev.jsonl" "$multi_cfg" -- \
    "$asr" train --config "$multi_cfg" --set "train.init_from=$init" "train.out_dir=$out" \
    "train.train_manifest=$manifest" "$@" "train.num_threads=$threads"
}

# first CORPUS N: CORPUS/train.first<N>.jsonl, the utterances a render of CORPUS's config with
# --num-train N lists (first_utterances.py)
first() {
  step "$(basename "$1")-first$2" "$1/train.first$2.jsonl" "$1/train.jsonl" "$1/corpus_info.json" -- \
    "$py" recipes/synthetic/first_utterances.py "$1" --num-train "$2" -o "$1/train.first$2.jsonl"
}

# mix OUT INPUT... [--exclude M]...: one manifest from several (mix_manifests.py)
mix() {
  local out=$1 inputs=() arg
  shift
  for arg in "$@"; do [ "$arg" = --exclude ] || inputs+=("$arg"); done
  step "$(basename "$out" .jsonl)" "$out" "${inputs[@]}" -- \
    "$py" recipes/synthetic/mix_manifests.py -o "$out" "$@"
}

# export NAME CHECKPOINT OUT: a slim float16 checkpoint, as the model was shipped
export_half() {
  step "$1" "$3" "$2" -- "$asr" export --model "$2" --format checkpoint --half -o "$3"
}

render_multi() {
  run "$py" recipes/synthetic/prepare.py --config "$multi_cfg" --out "$multi" --num-train "$multi_num_train" \
    --jobs "$jobs"
}

write_decoder_json() {
  local out=$model_dir/decoder.json
  if [ -n "${DRY_RUN:-}" ]; then
    echo "+ write $out: beam 32, $lm_name.bin, $lm_name.words.txt, lm_weight $lm_weight, word_score $word_score"
    return
  fi
  # the shipped decoder.json, byte for byte (json.dumps, indent 1); paths relative to its folder
  "$py" - "$out" "$lm_name" "$lm_weight" "$word_score" << 'EOF'
import json
import sys

out, lm_name, lm_weight, word_score = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
settings = {
    "beam_size": 32, "beam_size_token": 6, "beam_threshold": 15.0, "token_min_logp": -8.0,
    "blank_skip_threshold": 0.99, "log_add": True, "nbest": 1, "lm": f"{lm_name}.bin", "lexicon": f"{lm_name}.words.txt",
    "lm_weight": lm_weight, "word_score": word_score, "unk_score": -8.0, "hotwords": {}, "num_workers": 1,
    "min_batch_per_worker": 4,
}
with open(out, "w", encoding="utf-8") as f:
    f.write(json.dumps(settings, indent=1) + "\n")
EOF
  log "stage $current: wrote $out (lm_weight $lm_weight, word_score $word_score)"
}

current=0
if in_stage 0; then
  log "stage 0: text-to-speech engines (only what is missing)"
  run bash recipes/synthetic/install_engines.sh
fi

current=1
if in_stage 1; then
  log "stage 1: the espeak-only model (config.full.toml; one GPU: minutes, a 2-core CPU: days)"
  run "$py" recipes/synthetic/prepare.py --config "$full_cfg" --out "$full" --jobs "$jobs"
  step stage1-run1 exp/synthetic-full/best.pt "$full/train.jsonl" "$full/dev.jsonl" "$full_cfg" -- \
    "$asr" train --config "$full_cfg"
  step stage1-run2 exp/synthetic-full-ft/averaged.pt exp/synthetic-full/best.pt "$full/train.jsonl" \
    "$full/dev.jsonl" "$full_cfg" -- \
    "$asr" train --config "$full_cfg" --set train.init_from=exp/synthetic-full/best.pt \
    train.out_dir=exp/synthetic-full-ft train.epochs=5 train.lr=1.5e-3 train.warmup_steps=50
  export_half stage1-export exp/synthetic-full-ft/averaged.pt exp/synthetic-full-ft/model.pt
fi

current=2
if in_stage 2; then
  log "stage 2: the multi-engine preset at $multi_num_train; 3 epochs on its first 4 500 utterances"
  render_multi
  first "$multi" 4500
  train stage2 exp/synthetic-multi best.pt exp/synthetic-full-ft/model.pt "$multi/train.first4500.jsonl"
fi

current=3
if in_stage 3; then
  log "stage 3: + 2 000 espeak-ng utterances, 2 epochs"
  first "$full" 2000
  mix "$multi/train_stage3.jsonl" "$multi/train.first4500.jsonl" "$full/train.first2000.jsonl"
  train stage3 exp/synthetic-multi-2 best.pt exp/synthetic-multi/best.pt "$multi/train_stage3.jsonl" \
    train.epochs=2 train.lr=7e-4 train.warmup_steps=50
  export_half stage3-export exp/synthetic-multi-2/best.pt exp/synthetic-multi-2/model.pt
fi

current=4
if in_stage 4; then
  log "stage 4: the first 10 000 multi-engine + 4 000 espeak-ng utterances, 8 epochs"
  first "$multi" 10000
  first "$full" 4000
  mix "$multi/train_stage4.jsonl" "$multi/train.first10000.jsonl" "$full/train.first4000.jsonl"
  train stage4 exp/synthetic-multi-3 best.pt exp/synthetic-multi-2/model.pt "$multi/train_stage4.jsonl" \
    train.epochs=8 train.lr=8e-4 train.warmup_steps=150
fi

current=5
if in_stage 5; then
  log "stage 5: 10 000 multi-engine + 8 000 espeak-ng utterances, 2 epochs"
  first "$full" 8000
  mix "$multi/train_stage5.jsonl" "$multi/train.first10000.jsonl" "$full/train.first8000.jsonl"
  train stage5 exp/synthetic-multi-4 best.pt exp/synthetic-multi-3/best.pt "$multi/train_stage5.jsonl" \
    train.epochs=2 train.lr=3e-4 train.warmup_steps=50
fi

current=6
if in_stage 6; then
  log "stage 6: 20 000 multi-engine + 20 000 espeak-ng utterances, 1 epoch"
  first "$multi" 20000
  first "$full" 20000
  mix "$multi/train_stage6.jsonl" "$multi/train.first20000.jsonl" "$full/train.first20000.jsonl"
  train stage6 exp/synthetic-multi-5 best.pt exp/synthetic-multi-4/best.pt "$multi/train_stage6.jsonl" \
    train.epochs=1 train.lr=3e-4 train.warmup_steps=50
  export_half stage6-export exp/synthetic-multi-5/best.pt exp/synthetic-multi-5/model.pt
fi

current=7
if in_stage 7; then
  log "stage 7: only the clips stage 6 had not heard (multi-engine and espeak-ng 20 000-30 000), 1 epoch"
  first "$full" 30000
  mix "$multi/train_stage7.jsonl" "$multi/train.jsonl" "$full/train.first30000.jsonl" \
    --exclude "$multi/train.first20000.jsonl" --exclude "$full/train.first20000.jsonl"
  train stage7 exp/synthetic-multi-7 best.pt exp/synthetic-multi-5/model.pt "$multi/train_stage7.jsonl" \
    train.epochs=1 train.lr=3e-4 train.warmup_steps=50
  export_half stage7-export exp/synthetic-multi-7/best.pt exp/synthetic-multi-7/model.pt
fi

current=8
if in_stage 8; then
  log "stage 8: tried (40 000 utterances of each preset, the new clips) and not shipped: nothing to do"
fi

current=9
if in_stage 9; then
  log "stage 9: one epoch over 20 000 multi-engine + 30 000 espeak-ng utterances, weights averaged"
  mix "$multi/train_stage9.jsonl" "$multi/train.first20000.jsonl" "$full/train.first30000.jsonl"
  train stage9 exp/synthetic-multi-9 averaged.pt exp/synthetic-multi-7/model.pt "$multi/train_stage9.jsonl" \
    train.epochs=1 train.lr=4e-4 train.warmup_steps=100 train.checkpoint_every=250 train.average_last=3
fi

current=10
if in_stage 10; then
  log "stage 10: stage 9's manifest once more from its averaged weights, in another order"
  train stage10 exp/synthetic-multi-10 averaged.pt exp/synthetic-multi-9/averaged.pt \
    "$multi/train_stage9.jsonl" train.epochs=1 train.lr=3e-4 train.warmup_steps=100 train.seed=1 \
    train.checkpoint_every=250 train.average_last=3
fi

current=11
if in_stage 11; then
  log "stage 11: the LM text in $lm_text_dir, word $lm_order-gram LM and lexicon into $model_dir"
  run make -s lm-tools
  run "$py" -m pip install --quiet -c constraints.txt wordfreq # the 'lm' extra
  step lm-text "$lm_text_dir/sources.json" recipes/synthetic/lm_text.py -- \
    "$py" recipes/synthetic/lm_text.py --out "$lm_text_dir"
  [ -n "${DRY_RUN:-}" ] || mkdir -p "$model_dir"
  lm_files=("${lm_texts[@]/#/$lm_text_dir/}")
  lm_files=("${lm_files[@]/%/.txt}")
  step lm "$model_dir/$lm_name.bin" "${lm_files[@]}" "$lm_text_dir/wordfreq.tsv" "$multi/train_text.txt" \
    "$multi/dev.jsonl" "$full/dev.jsonl" -- \
    "$asr" lm build --text "${lm_files[@]}" --vocab-list "$lm_text_dir/wordfreq.tsv" \
    --vocab-size "$lm_vocab_size" --order "$lm_order" --quantize-bits "$lm_quantize_bits" \
    --mix "$multi/train_text.txt" --mix-tune "$multi/dev.jsonl" "$full/dev.jsonl" \
    -o "$model_dir/$lm_name.bin"
fi

current=12
if in_stage 12; then
  log "stage 12: the shipped files in $model_dir"
  [ -n "${DRY_RUN:-}" ] || mkdir -p "$model_dir"
  export_half stage12-export exp/synthetic-multi-10/averaged.pt "$model_dir/model.pt"
  step stage12-tune exp/synthetic-multi-10/decoder-tuned.json exp/synthetic-multi-10/averaged.pt \
    "$multi/dev.jsonl" "$model_dir/$lm_name.bin" -- \
    "$asr" lm tune --model exp/synthetic-multi-10/averaged.pt --manifest "$multi/dev.jsonl" \
    --lm "$model_dir/$lm_name.bin" --lm-weights "$tune_lm_weights" "--word-scores=$tune_word_scores" \
    -o exp/synthetic-multi-10/decoder-tuned.json
  write_decoder_json
fi

current=13
if in_stage 13; then
  log "stage 13: the model card's table (benchmarks/accuracy.py)"
  run "$py" benchmarks/accuracy.py --model "$model_dir/model.pt" --sets test,test_text \
    --out "$state/accuracy"
fi
finish
