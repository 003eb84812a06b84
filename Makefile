# Two commands matter: `make demo` (train + transcribe on the offline synthetic corpus) and `make test`.
# Both install what they need first; re-running skips everything that is up to date.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := espeak-ng sox ffmpeg fortunes fortunes-min fortune-anarchism wordnet-base
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: demo test test-fast install system-deps lint format clean

demo: install
	bash recipes/synthetic/run.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

install: $(VENV)/.installed system-deps

# One pip run resolves every Python dependency together (keeps numpy consistent; DESIGN.md §8).
$(VENV)/.installed: pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Debian packages: installed only when one is missing, so re-runs cost nothing.
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: install
	$(BIN)/ruff check asr tests recipes benchmarks
	$(BIN)/ruff format --check asr tests recipes benchmarks

format: install
	$(BIN)/ruff format asr tests recipes benchmarks
	$(BIN)/ruff check --fix asr tests recipes benchmarks

clean:
	rm -rf data/synthetic exp/synthetic .pytest_cache
