# Two commands matter: `make demo` (train + transcribe on the offline synthetic corpus) and `make test`.
# Both install what they need first; re-running skips everything that is up to date.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := espeak-ng sox ffmpeg fortunes fortunes-min fortune-anarchism wordnet-base sword-text-web \
	chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: demo test test-fast install system-deps engines lint format clean

demo: install  # config.toml with AMX or a GPU, else the smaller config.fast.toml (run.sh)
	bash recipes/synthetic/run.sh

# Then the inference tests again, their no-torch side in a venv without torch (numpy 2): what
# `pip install "asr-blstm[onnx,serve]"` gives a user.
NO_TORCH_TESTS := tests/test_no_torch_inference.py tests/test_decoding_no_torch.py

test: install lm-tools no-torch-venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	ASR_NO_TORCH_PYTHON=$(CURDIR)/$(NO_TORCH_VENV)/bin/python $(BIN)/python -m pytest $(PYTEST_ARGS) $(NO_TORCH_TESTS)

test-fast: install lm-tools
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

install: $(VENV)/.installed system-deps engines

# One pip run resolves every Python dependency together (keeps numpy consistent; docs/architecture.md, Environment).
# constraints.txt holds the exact tested versions; pyproject.toml only ranges.
# The install also compiles the native decoder (setup.py; in place for an editable install), so it
# re-runs when its sources change, needs g++, and fails here when the library does not load.
NATIVE_DIR := asr/decoding/native
NATIVE_SOURCES := setup.py MANIFEST.in $(NATIVE_DIR)/hotword_lm.cpp $(shell find $(NATIVE_DIR)/include -name '*.h')
NATIVE_CHECK := from asr.decoding.native import load_library; lib, why = load_library(); assert lib, why
# Each venv recipe first removes a distribution named `asr`: ours before it was asr-blstm, or the unrelated
# `asr` of the public index, which also imports as `asr` and would shadow this checkout.
$(VENV)/.installed: pyproject.toml constraints.txt $(NATIVE_SOURCES) | compiler
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip uninstall --quiet --yes asr 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	$(BIN)/python -c "$(NATIVE_CHECK)"
	touch $@

# A C++ compiler for the native decoder (setup.py); installed only when missing.
.PHONY: compiler
compiler:
	@command -v g++ >/dev/null || { echo "installing g++ for the native decoder"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends g++; }

# Debian packages: installed only when one is missing, so re-runs cost nothing.
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The synthetic corpus's text-to-speech engines (MBROLA, Festival, SVOX Pico, RHVoice from Debian's
# contrib/non-free, enabled in a sources file of our own; see the script). Installs only what is missing.
engines:
	bash recipes/synthetic/install_engines.sh

lint: install
	$(BIN)/ruff check asr tests recipes benchmarks
	$(BIN)/ruff format --check asr tests recipes benchmarks

format: install
	$(BIN)/ruff format asr tests recipes benchmarks
	$(BIN)/ruff check --fix asr tests recipes benchmarks

clean:
	rm -rf data/synthetic exp/synthetic .pytest_cache  # other recipes: data/<name>, exp/<name>

# KenLM's lmplz and build_binary, used by `asr lm build`: no wheel or Debian package ships them, so they
# are compiled once from the kenlm sdist with cmake + Boost into tools/kenlm/bin (docs/architecture.md, Environment; ~1 min).
# Re-runs do nothing once both binaries exist; `make clean-lm-tools` removes them.
KENLM_VERSION := 0.3.0
KENLM_DIR := tools/kenlm
KENLM_DEBIAN_PACKAGES := cmake g++ make libboost-program-options-dev libboost-system-dev \
	libboost-thread-dev libboost-test-dev libeigen3-dev zlib1g-dev libbz2-dev liblzma-dev
LM_TOOLS_JOBS ?= 2

.PHONY: lm-tools clean-lm-tools bench-peers-venv no-torch-venv test-decoding-numpy2

# benchmarks/decode.py's peers in their own venv (pyctcdecode needs numpy < 2; ours does not):
#   make bench-peers-venv && .venv-peers/bin/python benchmarks/decode.py
bench-peers-venv: .venv-peers/.installed
.venv-peers/.installed: pyproject.toml constraints.txt
	[ -x .venv-peers/bin/python ] || $(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip uninstall --quiet --yes asr 2>/dev/null || true
	.venv-peers/bin/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	touch $@

# A venv without torch, as `pip install "asr-blstm[onnx,serve]"` makes it, with numpy 2 (the main venv keeps
# the tested numpy 1 set): `make test` runs the no-torch side of the inference and decoding tests in it.
# The constraints file pins everything else; numpy's pin is left out.
NO_TORCH_VENV := .venv-notorch
no-torch-venv: $(NO_TORCH_VENV)/.installed
$(NO_TORCH_VENV)/.installed: pyproject.toml constraints.txt
	[ -x $(NO_TORCH_VENV)/bin/python ] || $(PYTHON) -m venv $(NO_TORCH_VENV)
	$(NO_TORCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NO_TORCH_VENV)/bin/python -m pip uninstall --quiet --yes asr 2>/dev/null || true
	grep -v '^numpy==' constraints.txt > $(NO_TORCH_VENV)/constraints.txt
	$(NO_TORCH_VENV)/bin/python -m pip install --quiet -c $(NO_TORCH_VENV)/constraints.txt \
		-e ".[onnx,serve]" "numpy>=2" pytest httpx
	@if $(NO_TORCH_VENV)/bin/python -c "import torch" 2>/dev/null; then \
		echo "$(NO_TORCH_VENV) has torch: something in asr-blstm[onnx,serve] pulls it in" >&2; exit 1; fi
	touch $@

# asr.decoding alone with numpy 2 and no torch (also part of `make test`).
test-decoding-numpy2: no-torch-venv
	ASR_NO_TORCH_PYTHON=$(CURDIR)/$(NO_TORCH_VENV)/bin/python $(BIN)/python -m pytest tests/test_decoding_no_torch.py

lm-tools: $(KENLM_DIR)/bin/lmplz $(KENLM_DIR)/bin/build_binary

$(KENLM_DIR)/bin/lmplz $(KENLM_DIR)/bin/build_binary: | $(VENV)/.installed
	@missing=$$(for p in $(KENLM_DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for KenLM: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	rm -rf $(KENLM_DIR)/src $(KENLM_DIR)/build && mkdir -p $(KENLM_DIR)/src $(KENLM_DIR)/bin
	# The sdist holds the whole C++ tree; never --no-binary :all: (that rebuilds cmake for > 10 min).
	$(BIN)/python -m pip download --quiet --no-deps --no-build-isolation kenlm==$(KENLM_VERSION) -d $(KENLM_DIR)/src
	tar -xzf $(KENLM_DIR)/src/kenlm-$(KENLM_VERSION).tar.gz -C $(KENLM_DIR)/src
	cmake -S $(KENLM_DIR)/src/kenlm-$(KENLM_VERSION) -B $(KENLM_DIR)/build -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_POLICY_VERSION_MINIMUM=3.5 --no-warn-unused-cli >$(KENLM_DIR)/cmake.log
	cmake --build $(KENLM_DIR)/build -j $(LM_TOOLS_JOBS) --target lmplz build_binary
	cp $(KENLM_DIR)/build/bin/lmplz $(KENLM_DIR)/build/bin/build_binary $(KENLM_DIR)/bin/
	rm -rf $(KENLM_DIR)/src $(KENLM_DIR)/build
	@echo "KenLM tools ready: $(KENLM_DIR)/bin/lmplz, $(KENLM_DIR)/bin/build_binary"

clean-lm-tools:
	rm -rf $(KENLM_DIR)

# Native hotword LM: KenLM + hotword gains in C++ inside flashlight's lexicon search, so that 1,000
# hotwords cost no more than none.
# The package's build compiles it (setup.py, against the flashlight-text wheel of the build environment):
# every install does, `make install` included. This alias rebuilds it in place alone (no dependencies).
# asr.decoding falls back to flashlight-text's KenLM / its Python LM when the library is missing, and
# says so at WARNING; ASR_NATIVE_DECODER=0 forces that fallback.
.PHONY: native-decoder clean-native-decoder
native-decoder: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -c "$(NATIVE_CHECK)"

clean-native-decoder:
	rm -rf $(NATIVE_DIR)/_build $(NATIVE_DIR)/libasr_hotword_lm.so
