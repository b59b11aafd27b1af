# The only set-up a user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch 2.13.0: a CPU build where a local wheel exists, the usual PyPI build elsewhere.
# On a GPU machine `make demo TORCH=torch` takes the newest CUDA build.
TORCH ?= torch==2.13.0
DEMO_MINUTES ?= 3
FMNIST_DEB := /usr/share/datasets/fashion-mnist
LOAD_FMNIST := from ganforge.config import DataConfig; from ganforge.data import load_data; \
	d = load_data(DataConfig()); print('Fashion-MNIST ready:', tuple(d.images.shape), 'from', d.source_path)
PYTEST_FLAGS ?=

.PHONY: demo test test-deps test-hidden-data test-multiprocess bench data fetch-fmnist data-emoji \
	fetch-emoji-font browser clean help

help:
	@echo "make demo   create .venv, get Fashion-MNIST, train the default recipe (best) for $(DEMO_MINUTES) minutes"
	@echo "make test   create .venv, fetch what the tests use (Fashion-MNIST, the emoji font, chromium), run the suite"
	@echo "make test-hidden-data   the suite with this machine's data hidden (as CI's second pass)"
	@echo "make test-multiprocess   the tests that start several processes (gloo, a few minutes)"
	@echo "make bench  training throughput benchmark (benchmarks/throughput.py)"
	@echo "make data-emoji  install fonts-noto-color-emoji (apt, as root) and render --data emoji once"

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test,onnx,safetensors]"
	touch $@

# Fashion-MNIST: Debian's package where apt works (as root); otherwise ganforge downloads it
# from the official source into ~/.cache/ganforge on first use.
fetch-fmnist:
	@if [ ! -d $(FMNIST_DEB) ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; } || \
	  echo "apt-get could not install dataset-fashion-mnist; ganforge will download it instead"; fi

data: $(VENV)/.installed fetch-fmnist
	$(PY) -c "$(LOAD_FMNIST)"

# The colour emoji set (--data emoji, the progan-64 preset) is rendered from Debian's font package.
fetch-emoji-font:
	@if [ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1; } || \
	  echo "apt-get could not install fonts-noto-color-emoji; install it to use --data emoji"; fi

data-emoji: $(VENV)/.installed fetch-emoji-font
	$(PY) -c "from ganforge.config import DataConfig; from ganforge.data import load_data; \
	d = load_data(DataConfig(source='emoji', size=64)); print('emoji ready:', tuple(d.images.shape), 'from', d.source_path)"

demo: data
	$(VENV)/bin/ganforge train --minutes $(DEMO_MINUTES)

# Chromium for the browser tests of report.html (tests/train/test_report.py) and of the explore page
# (tests/explore/test_browser.py, driven by the test extra's playwright, which needs no driver
# package): Debian's package where apt works (as root); elsewhere those tests skip and say why.
browser:
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	  echo "apt-get could not install chromium; the browser tests will be skipped"; fi

# What the tests use from the machine, fetched as `make demo` fetches it: Fashion-MNIST, the
# emoji font, Chromium. Whatever cannot be had here is reported, and the tests that need it skip.
test-deps: $(VENV)/.installed browser fetch-fmnist fetch-emoji-font
	@$(PY) -c "$(LOAD_FMNIST)" 2>/dev/null || \
	  echo "Fashion-MNIST could not be fetched here; the tests that need the real data will skip"

test: test-deps
	$(PY) -m pytest $(PYTEST_FLAGS)

# The suite with this machine's data hidden: an empty cache and no system data folders
# (GANFORGE_SYSTEM_DATA=0). A test that silently depends on what is installed fails here.
test-hidden-data: $(VENV)/.installed
	cache=$$(mktemp -d) && GANFORGE_CACHE=$$cache GANFORGE_SYSTEM_DATA=0 $(PY) -m pytest $(PYTEST_FLAGS); \
	  status=$$?; rm -rf $$cache; exit $$status

# Runs of two CPU processes each (tests/train/test_distributed.py): minutes, so a step of its own.
test-multiprocess: $(VENV)/.installed
	$(PY) -m pytest -m multiprocess $(PYTEST_FLAGS)

bench: $(VENV)/.installed
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
