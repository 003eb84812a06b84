#!/usr/bin/env bash
# What each augmentation buys on an engine the model never heard (issue 14, item 3). The espeak-only
# model is fine-tuned for EPOCHS epochs on N utterances of four engines (espeak-ng, MBROLA via espeak-ng
# and via Festival, SVOX Pico; corpus: studies/augment.toml) and scored on RHVoice's dev and test_text
# utterances (an unseen engine, unseen sentences), greedy and beam + LM. Each row adds one kind:
#   none            unwarped utterances, no on-the-fly augmentation (SpecAugment off too)
#   +warp           half the utterances speaker-warped at synthesis (WORLD: formant, pitch, tempo)
#   +wave           + speed, gain, coloured noise, reverberation, telephone band (config.multi.toml's)
#   +specaug        + SpecAugment (the recipe's default masks)
#   +babble         + babble (three other utterances of the batch underneath, 5-20 dB)
# Every row trains on the same number of utterances from the same init, so only the augmentation differs.
#   recipes/synthetic/studies/augment.sh [ROW ...]   (default: all rows; INIT, EPOCHS, N, SEED, THREADS:
#                                                     environment overrides)
#   for s in 0 1 2; do SEED=$s recipes/synthetic/studies/augment.sh; done      (the README's table)
# Results: exp/augstudy/results.tsv (row, epochs, seed, greedy WER, CER, beam + LM WER, CER).
set -euo pipefail
cd "$(dirname "$0")/../../.."
py=${PYTHON:-.venv/bin/python}
asr=${ASR:-.venv/bin/asr}
config=recipes/synthetic/studies/augment.toml
corpus=data/synthetic-augstudy
init=${INIT-exp/espeak-only.pt}
epochs=${EPOCHS:-2}
n=${N:-1000}
seed=${SEED:-0}
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(none +warp +wave +specaug +babble)
threads=${THREADS:-2}
decoder=${DECODER:-data/models/synthetic-en/decoder.json}
[ -f "$init" ] || { mkdir -p "$(dirname "$init")"; git show 63c6679:data/models/synthetic-en/model.pt > "$init"; }

$py recipes/synthetic/prepare.py --config "$config" --out "$corpus" --splits train,dev,test_text --no-progress
split=$corpus/hold-rhvoice
$py recipes/synthetic/split_engines.py --corpus "$corpus" --hold rhvoice --out "$split"
# Equal-size training sets: N unwarped utterances ("none"), or N drawn from all (the other rows).
$py - "$split" "$n" <<'PY'
import json, random, sys
split, n = sys.argv[1], int(sys.argv[2])
rows = [json.loads(line) for line in open(f"{split}/train.jsonl")]
plain = [r for r in rows if "warp" not in r]
if len(plain) < n:
    sys.exit(f"only {len(plain)} unwarped training utterances; lower N")
for name, pool in (("plain", plain), ("mixed", rows)):
    chosen = random.Random(0).sample(pool, n)
    with open(f"{split}/train-{name}.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in chosen)
    warped = sum("warp" in r for r in chosen)
    print(f"{name}: {n} utterances, {warped} warped, {sum(r['duration'] for r in chosen) / 3600:.2f} h")
PY

# shellcheck source=recipes/synthetic/studies/augment_off.sh
. recipes/synthetic/studies/augment_off.sh
off=$augment_off
wave="train.augment.speed_perturb=true train.augment.gain_prob=0.3 train.augment.noise_prob=0.3"
wave="$wave train.augment.reverb_prob=0.2 train.augment.telephone_prob=0.1"
declare -A manifest=([none]=plain [+warp]=mixed [+wave]=mixed [+specaug]=mixed [+babble]=mixed)
declare -A sets=(
  [none]="$off"
  [+warp]="$off"
  [+wave]="$off $wave"
  [+specaug]="$off $wave train.augment.spec_augment=true"
  [+babble]="$off $wave train.augment.spec_augment=true train.augment.babble_prob=0.3"
)
mkdir -p exp/augstudy
for row in "${rows[@]}"; do
  exp=exp/augstudy/${row#+}-e$epochs-s$seed
  if [ ! -f "$exp/.done" ]; then
    # shellcheck disable=SC2086
    $asr train --config "$config" --resume --set train.train_manifest="$split/train-${manifest[$row]}.jsonl" \
      train.dev_manifest="$split/dev.jsonl" train.out_dir="$exp" train.epochs="$epochs" \
      train.num_threads="$threads" train.init_from="$init" train.seed="$seed" ${sets[$row]}
    touch "$exp/.done"
  fi
  $asr evaluate --model "$exp/best.pt" --manifest "$split/test.jsonl" --name heldout \
    --decoder-config "$decoder" --also-greedy --threads "$threads" | grep -v speaker
  $py - "$row" "$exp" "$epochs" "$seed" <<'PY' >> exp/augstudy/results.tsv
import json, sys
row, exp, epochs, seed = sys.argv[1:]
g = json.load(open(f"{exp}/summary-heldout-greedy.json"))
b = json.load(open(f"{exp}/summary-heldout.json"))
print(f"{row}\t{epochs}\t{seed}\t{g['wer']*100:.2f}\t{g['cer']*100:.2f}\t{b['wer']*100:.2f}\t{b['cer']*100:.2f}")
PY
done
cat exp/augstudy/results.tsv
