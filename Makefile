# AR-Net Edge — the two commands a newcomer types: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
EDGE_VENV := .venv-edge
LITERT_VENV := .venv-edge-litert
PY := $(VENV)/bin/python
EDGE_PY := $(EDGE_VENV)/bin/python
LITERT_PY := $(LITERT_VENV)/bin/python
PIP_FLAGS := --disable-pip-version-check -q
# pip install with download retries and resume (scripts/pip_install.sh): PIP PYTHON ARGS...
PIP := bash scripts/pip_install.sh
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONUNBUFFERED := 1

.PHONY: help venv venv-edge venv-edge-litert browser-setup web-setup web-test test test-desktop test-edge test-edge-litert test-edge-pythons android-test demo results bench clean

help:
	@echo "make demo          fresh machine -> venv -> SynthAct -> train -> export -> live run (headless)"
	@echo "make test          the whole suite (desktop venv, torch-free edge venv, Kotlin core)"
	@echo "make android-test  compile and test android_demo/core on the JVM; link the app's resources (aapt2), compile its Kotlin"
	@echo "make web-test      the phone web app: JS step loop vs the golden traces (node), deps from its lockfile"
	@echo "make browser-setup headless Chromium + chromedriver for the browser-view tests (apt)"
	@echo "make results       AR-Net vs Uniform and the baselines on full SynthAct, 3 seeds (2 CPU cores, hours)"
	@echo "make bench         edge benchmark on the demo model (after make demo)"

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements.txt requirements-nodeps.txt pyproject.toml scripts/pip_install.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(PY) $(PIP_FLAGS) --upgrade pip
	PIP_INSTALL_NEEDS_GB=10 $(PIP) $(PY) $(PIP_FLAGS) -r requirements.txt
	$(PIP) $(PY) $(PIP_FLAGS) --no-deps -r requirements-nodeps.txt
	$(PIP) $(PY) $(PIP_FLAGS) --no-deps --no-build-isolation -e .
	touch $@

# The torch-free device venv CI tests: numpy < 2 + tflite_runtime (the JetPack path).
venv-edge: $(EDGE_VENV)/.stamp
$(EDGE_VENV)/.stamp: requirements-edge-legacy.txt scripts/pip_install.sh
	test -x $(EDGE_PY) || $(PYTHON) -m venv $(EDGE_VENV)
	PIP_INSTALL_NEEDS_GB=1 $(PIP) $(EDGE_PY) $(PIP_FLAGS) -r requirements-edge-legacy.txt pytest==9.2.0
	touch $@

TEST_ARTIFACTS := build/test_artifacts
SOURCES := $(shell find train convert edge_runtime -name '*.py' 2>/dev/null)

# The device venv from requirements-edge.txt itself (LiteRT + numpy 2, Raspberry Pi OS / laptops).
venv-edge-litert: $(LITERT_VENV)/.stamp
$(LITERT_VENV)/.stamp: requirements-edge.txt scripts/pip_install.sh
	test -x $(LITERT_PY) || $(PYTHON) -m venv $(LITERT_VENV)
	PIP_INSTALL_NEEDS_GB=1 $(PIP) $(LITERT_PY) $(PIP_FLAGS) -r requirements-edge.txt pytest==9.2.0
	touch $@

test: test-desktop test-edge test-edge-litert test-edge-pythons android-test web-test

# A tiny but real exported model (every format) for the runtime tests of both venvs.
$(TEST_ARTIFACTS)/manifest.json: $(VENV)/.stamp $(SOURCES)
	rm -rf $(TEST_ARTIFACTS)
	$(PY) -m convert.export_all --tiny --out $(TEST_ARTIFACTS) --no-latency

# The phone web app's JS dependencies (npm ci from android_demo/web/package-lock.json) for
# tests/edge/test_phone_web.py (it skips without them)
web-setup:
	bash android_demo/web/run_tests.sh --install-only

# headless Chromium + chromedriver for tests/edge/test_browser_view.py (apt; they skip without it)
browser-setup:
	bash scripts/install_chromium.sh

test-desktop: venv browser-setup web-setup $(TEST_ARTIFACTS)/manifest.json
	ARNET_TEST_ARTIFACTS=$(TEST_ARTIFACTS) $(PY) -m pytest -q tests

# The edge tests again, in a venv without torch; a test there that imports torch fails.
test-edge: venv-edge browser-setup web-setup $(TEST_ARTIFACTS)/manifest.json
	ARNET_TEST_ARTIFACTS=$(TEST_ARTIFACTS) ARNET_EDGE_VENV=1 $(EDGE_PY) -m pytest -q -p no:cacheprovider tests/edge --edge-venv

test-edge-litert: venv-edge-litert browser-setup web-setup $(TEST_ARTIFACTS)/manifest.json
	ARNET_TEST_ARTIFACTS=$(TEST_ARTIFACTS) ARNET_EDGE_VENV=1 $(LITERT_PY) -m pytest -q -p no:cacheprovider tests/edge --edge-venv

# The same edge tests under Python 3.8 / 3.10 (JetPack 5 / 6, legacy file) and 3.13 (Raspberry Pi OS
# trixie, requirements-edge.txt), where this machine has them (pyenv).
test-edge-pythons: web-setup $(TEST_ARTIFACTS)/manifest.json
	ARNET_TEST_ARTIFACTS=$(TEST_ARTIFACTS) bash scripts/test_edge_pythons.sh

android-test:
	bash android_demo/core/run_tests.sh
	bash android_demo/app/tools/link_resources.sh
	bash android_demo/app/tools/compile_app.sh

# The phone web app (android_demo/web): npm ci from its lockfile, node's test runner.
web-test:
	bash android_demo/web/run_tests.sh

demo: venv
	bash scripts/demo.sh

# Full SynthAct, every method, seeds and intervals -> docs/results/synthact_full_cpu.json (resumable)
results: venv
	$(PY) -m train.results --config configs/results_synthact.yaml

bench: venv
	$(PY) edge_runtime/bench.py --model artifacts/demo --video data/synthact_small/videos/test --json artifacts/demo/bench.json

clean:
	rm -rf $(VENV) $(EDGE_VENV) $(LITERT_VENV) .venv-edge-py* build data artifacts runs android_demo/core/build
