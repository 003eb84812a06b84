# Stages 2-5 shared by the corpus recipes whose run.sh is otherwise alike (an4, commonvoice, ljspeech,
# tedlium3). Sourced at the end of their run.sh, which sets: stage, stop_stage, config, config_hash,
# data, exp, order, py, asr, start and log().
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  if [ -f "$data/lm$order.bin" ] && [ "$data/lm$order.bin" -nt "$data/train_text.txt" ]; then
    log "stage 2: $data/lm$order.bin is up to date, skipping"
  else
    log "stage 2: word $order-gram from $data/train_text.txt"
    make -s lm-tools
    $asr lm build --text "$data/train_text.txt" --order "$order" -o "$data/lm$order.bin"
  fi
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  marker="$exp/.train.done"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$config_hash" ] && [ -f "$exp/best.pt" ]; then
    log "stage 3: $exp/best.pt is up to date for $config, skipping training"
  else
    log "stage 3: train (resumes if interrupted)"
    $asr train --config "$config" --resume
    echo "$config_hash" > "$marker"
  fi
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: evaluate on the test set (greedy)"
  $asr evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" --name test
  if [ -f "$data/lm$order.bin" ]; then
    if [ ! -f "$exp/decoder-tuned.json" ] || [ "$exp/best.pt" -nt "$exp/decoder-tuned.json" ]; then
      log "stage 4: tune lm_weight / word_score on dev"
      $asr lm tune --model "$exp/best.pt" --manifest "$data/dev.jsonl" --lm "$data/lm$order.bin" -o "$exp/decoder-tuned.json"
    fi
    $asr evaluate --model "$exp/best.pt" --manifest "$data/test.jsonl" --name test-beam-lm \
      --decoder-config "$exp/decoder-tuned.json"
  fi
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  sample=$($py -c "import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r['audio'] + '\t' + r['text'])" "$data/test.jsonl")
  audio="$data/${sample%%$'\t'*}"
  log "stage 5: transcribe $audio"
  echo "reference:  ${sample#*$'\t'}"
  echo "transcript: $($asr transcribe "$audio" --model "$exp/best.pt")"
fi
log "done in $(( $(date +%s) - start )) s"
