# Stages 2-5 of the corpus recipes whose run.sh is otherwise alike (an4, commonvoice, ljspeech,
# tedlium3): a word LM from the training text, train, evaluate the test set (greedy, then beam + LM
# tuned on dev), transcribe a test file. Sourced at the end of their run.sh, after setup.sh.
source recipes/common/stages.sh
if in_stage 2; then stage_word_lm "$order"; fi
if in_stage 3; then stage_train; fi
if in_stage 4; then stage_evaluate "$data/lm$order.bin" "$data/dev.jsonl" test; fi
if in_stage 5; then stage_transcribe "$data/test.jsonl"; fi
finish
