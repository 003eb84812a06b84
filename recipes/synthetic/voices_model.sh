#!/usr/bin/env bash
# The next default model: the shipped model fine-tuned on config.voices.toml (Kokoro's blended neural
# speakers, hibari, twelve accented MBROLA voices and the six engines of the multi-engine preset), built in
# pieces that stop and resume: every stage can be killed at any moment and re-run with the same command.
#
#   recipes/synthetic/voices_model.sh [--stage N] [--stop-stage M] [--jobs N] [--model-dir DIR]
#                                     [--models "new shipped"] [--stop-after TIME] [--interpolate W]
#
#   1 render-new  Kokoro, hibari and the accented voices (~17 h of audio; Kokoro ~1.7 s of audio per
#                 CPU-second, so ~7 CPU-hours) at nice 19, resumable per clip  -> data/synthetic-voices
#   2 render-rest the six engines (Piper with its quality gate), the manifests of everything, and
#                 the espeak-ng replay against forgetting (9 000 clips, a minute) -> data/synthetic-espeak-replay
#                 (to train on part of the new engines' clips, stop stage 1 and run prepare.py
#                 --manifests-only instead: the manifests of every clip rendered so far)
#   3 train       asr train --resume on config.voices.toml (4 epochs of ~32 h, ~2.3 CPU-hours): stop it
#                 whenever a window ends (Ctrl-C, or --stop-after 45m: exit status 75, later stages
#                 wait), the same command continues it exactly              -> exp/synthetic-voices
#   4 evaluate    the new model and the shipped one on the corpus's dev, test (voices never in training)
#                 and test_text (unseen sentences), and on the neural and accented folds' test sets
#                 (voices the fold models never heard), greedy and beam + LM (the shipped decoder.json);
#                 --models shipped scores the shipped model alone (it needs no training: run it early)
#                                                                               -> exp/synthetic-voices/eval
#   5 package     averaged.pt (or best.pt) as float16 with the shipped LM, lexicon and decoder settings
#                 (--interpolate W: stages 4 and 5 use W x it + (1 - W) x the shipped model, asr average)
#                 -> DIR (default exp/synthetic-voices/model: data/models/synthetic-en only when asked)
# The leave-out folds themselves (a model per fold, trained without its voices) are
# studies/loeo.sh neural accented; README "Voices closer to people" has the plan and the results.
set -euo pipefail
cd "$(dirname "$0")/../.."

recipe=synthetic
options="model-dir models stop-after interpolate"
source recipes/common/lib.sh
parse_args --config recipes/synthetic/config.voices.toml --stop-stage 5 "$@"
model_dir=${model_dir:-$exp/model}
models=${models:-new shipped}
shipped=data/models/synthetic-en
new_engines=kokoro,hibari,accented
replay=data/synthetic-espeak-replay

# the fine-tune's result: its last checkpoints averaged, or its best one where there is no average
fine_tuned() { if [ -f "$exp/averaged.pt" ]; then echo "$exp/averaged.pt"; else echo "$exp/best.pt"; fi; }
# the model stages 4 and 5 use: that, or with --interpolate W that interpolated with the shipped model
trained() { if [ -n "$interpolate" ]; then echo "$exp/interpolated-$interpolate.pt"; else fine_tuned; fi; }
interpolate() {  # makes trained()'s interpolated model (again when the fine-tune is newer)
  [ -n "$interpolate" ] || return 0
  [ "$(trained)" -nt "$(fine_tuned)" ] || $asr average "$(fine_tuned)" "$shipped" \
    --weights "$interpolate" "$($py -c "print(1 - float('$interpolate'))")" -o "$(trained)"
}

if in_stage 1; then
  log "stage 1: render $new_engines into $data (nice 19; re-run to resume)"
  mkdir -p "$data"
  nice -n 19 $py recipes/synthetic/prepare.py --config "$config" --out "$data" --jobs "$jobs" \
    --engines "$new_engines" --freeze-text
fi

if in_stage 2; then
  log "stage 2: the other engines and the manifests of everything in $data"
  nice -n 10 $py recipes/synthetic/prepare.py --config "$config" --out "$data" --jobs "$jobs" --freeze-text
  # the espeak-ng replay that [train] extra_train_manifests names: the full preset's voices (the same
  # held-out test voices as this corpus), sentences of no evaluation split
  log "stage 2: espeak-ng replay -> $replay"
  nice -n 10 $py recipes/synthetic/prepare.py --config recipes/synthetic/config.full.toml --out "$replay" \
    --splits train --num-train 9000 --jobs "$jobs"
fi

if in_stage 3; then
  log "stage 3: fine-tune into $exp (resumes from $exp/last.pt when it is there)"
  $asr train --config "$config" --resume --set "train.num_threads=$jobs" ${stop_after:+--stop-after "$stop_after"}
fi

if in_stage 4; then
  interpolate
  eval_dir=$exp/eval
  mkdir -p "$eval_dir"
  for fold in neural accented; do
    $py recipes/synthetic/split_engines.py --corpus "$data" --fold "$fold" --out "$data/loeo-$fold"
  done
  for name in $models; do
    case $name in new | shipped) ;; *) echo "--models: new and/or shipped, not $name" >&2; exit 2 ;; esac
    model=$shipped tag=shipped
    [ "$name" = shipped ] || model=$(trained) tag=new${interpolate:+-w$interpolate}
    for set in dev test test_text loeo-neural/test loeo-accented/test; do
      log "stage 4: $name model on $set"
      n=$tag-${set//\//-}
      $asr evaluate --model "$model" --manifest "$data/$set.jsonl" --name "$n" \
        --decoder-config "$shipped/decoder.json" --also-greedy --threads "$jobs" --output-dir "$eval_dir"
      $py recipes/synthetic/engine_report.py --manifest "$data/$set.jsonl" --recogs "$eval_dir/recogs-$n.txt" \
        --recogs "$eval_dir/recogs-$n-greedy.txt" --json "$eval_dir/engines-$n.json"
    done
  done
fi

if in_stage 5; then
  interpolate
  result=$(trained)
  log "stage 5: $result as float16 with the shipped LM and decoder settings -> $model_dir"
  mkdir -p "$model_dir"
  $asr export --model "$result" --format checkpoint --half -o "$model_dir/model.pt"
  for f in "$shipped"/decoder.json "$shipped"/lm3.bin "$shipped"/lm3.words.txt; do
    [ "$(realpath "$f")" = "$(realpath -m "$model_dir/$(basename "$f")")" ] || cp "$f" "$model_dir/"
  done
  du -sh "$model_dir"
fi
finish
