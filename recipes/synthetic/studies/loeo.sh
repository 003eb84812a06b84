#!/usr/bin/env bash
# Leave-one-engine-out: for each engine group E, fine-tune the espeak-only model on the multi-engine
# corpus without E, then score it on E's voices (sentences it never saw either), greedy and beam + LM.
#   recipes/synthetic/studies/loeo.sh [GROUP ...]      groups: diphone pico rhvoice piper neural accented
#                                                      (default: the first four)
# neural = kokoro + hibari + piper; accented = six of the twelve accented MBROLA voices (the folds are
# split_engines.py's FOLDS). Those two need the voices corpus: asking for either makes CONFIG default to
# config.voices.toml and CORPUS to data/synthetic-voices (which holds every engine, so the other groups
# run on it too; without either, they run on config.multi.toml's corpus as before).
#   INIT=espeak-only.pt EPOCHS=1 MAX_TRAIN=2000 THREADS=2 recipes/synthetic/studies/loeo.sh pico
# NUM_TRAIN renders a larger corpus than the preset's num_train (prepare.py --num-train; dev and test
# splits stay the same); MAX_TRAIN keeps the first N training utterances without E (0: all). TAG names
# a variant: its runs go to exp/loeo-GROUP-TAG. CORPUS is the corpus folder (default: above);
# RENDER=0 uses it as it is instead of rendering it first. AUGMENT=off turns the on-the-fly
# augmentation off (studies/augment_off.sh: studies/augment.sh's "+warp" row; default on, the preset's).
# SETS adds further `asr train --set` overrides, e.g. SETS="train.seed=1".
# INIT is the model every run starts from; it must never have heard the held-out engine: the espeak-only
# default model (git show 63c6679:data/models/synthetic-en/model.pt > espeak-only.pt) or none ("").
# diphone = mbrola + festival: both render the same four MBROLA databases, so they leave together.
# Results: exp/loeo-GROUP/summary-loeo-test*.json and one line each in exp/loeo/results.tsv.
set -euo pipefail
cd "$(dirname "$0")/../../.."
py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(diphone pico rhvoice piper)
config=recipes/synthetic/config.multi.toml
corpus=data/synthetic-multi
for group in "${groups[@]}"; do  # before the hour of rendering, not after it
  case "$group" in
    diphone|pico|rhvoice|piper) ;;
    neural|accented) config=recipes/synthetic/config.voices.toml corpus=data/synthetic-voices ;;
    *) echo "unknown group $group (diphone pico rhvoice piper neural accented)" >&2; exit 2 ;;
  esac
done
config=${CONFIG:-$config}
corpus=${CORPUS:-$corpus}
epochs=${EPOCHS:-1}
threads=${THREADS:-2}
max_train=${MAX_TRAIN:-0}
num_train=${NUM_TRAIN:+--num-train $NUM_TRAIN}
init=${INIT-espeak-only.pt}
if [ -n "$init" ] && [ ! -f "$init" ]; then
  echo "INIT=$init not found: git show 63c6679:data/models/synthetic-en/model.pt > espeak-only.pt" >&2
  exit 2
fi
decoder=${DECODER:-data/models/synthetic-en/decoder.json}
read -r -a sets <<< "${SETS:-}"
case "${AUGMENT:-on}" in
  on) ;;
  off)
    # shellcheck source=recipes/synthetic/studies/augment_off.sh
    . recipes/synthetic/studies/augment_off.sh
    read -r -a off <<< "$augment_off"
    sets=("${off[@]}" ${sets[@]+"${sets[@]}"}) ;;
  *) echo "AUGMENT=${AUGMENT} (on or off)" >&2; exit 2 ;;
esac

if [ "${RENDER:-1}" != 0 ]; then
  # shellcheck disable=SC2086 # num_train is empty or two words
  $py recipes/synthetic/prepare.py --config "$config" --out "$corpus" $num_train --no-progress
fi
mkdir -p exp/loeo
for group in "${groups[@]}"; do
  split=$corpus/loeo-$group
  name=$group${TAG:+-$TAG}
  exp=exp/loeo-$name
  $py recipes/synthetic/split_engines.py --corpus "$corpus" --fold "$group" --out "$split" --max-train "$max_train"
  if [ ! -f "$exp/.done" ]; then
    $asr train --config "$config" --resume --set train.train_manifest="$split/train.jsonl" \
      train.dev_manifest="$split/dev.jsonl" train.out_dir="$exp" train.epochs="$epochs" \
      train.num_threads="$threads" train.init_from="$init" ${sets[@]+"${sets[@]}"}
    touch "$exp/.done"
  fi
  $asr evaluate --model "$exp/best.pt" --manifest "$split/test.jsonl" --name loeo-test \
    --decoder-config "$decoder" --also-greedy --threads "$threads" | grep -v speaker
  $py - "$name" "$exp" <<'PY' >> exp/loeo/results.tsv
import json, sys
name, exp = sys.argv[1:]
g = json.load(open(f"{exp}/summary-loeo-test-greedy.json"))
b = json.load(open(f"{exp}/summary-loeo-test.json"))
print(f"{name}\t{g['wer']*100:.2f}\t{g['cer']*100:.2f}\t{b['wer']*100:.2f}\t{b['cer']*100:.2f}")
PY
done
