# The two commands of the README: `make demo` and `make test`.
# Each creates .venv if absent and installs the pinned environment first: every package at
# the version and hashes of requirements.lock (`make lock` remakes it after a dependency
# change in pyproject.toml; `make install` refuses a lock older than those declarations).
# `make test-latest` runs the tests against the newest releases instead, in .venv-latest.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nlc-eval-installed
# Official gov.scot files: NLC_EVAL_OFFICIAL_DATA if set, else ../shared/data/scotgov if present.
OFFICIAL ?= $(abspath $(or $(NLC_EVAL_OFFICIAL_DATA),$(wildcard ../shared/data/scotgov)))
JOBS ?= 2
LOCK := requirements.lock
# The lock resolves for this interpreter and platform (the CI machine's).
LOCK_PYTHON ?= 3.11.7
LOCK_PLATFORM ?= x86_64-manylinux_2_28
LATEST := $(VENV)-latest

# Headless Chromium + chromedriver (Debian) and axe-core (npm, under .venv/axe, not committed):
# the browser tests, and the PDF copies of the reports.
BROWSER_STAMP := $(VENV)/.nlc-eval-browser
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint install bench clean browser lock test-latest

install: $(STAMP) $(BROWSER_STAMP)

browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }
	test -f $(AXE) || npm install --prefix $(VENV)/axe --no-audit --no-fund --silent axe-core@4
	touch $@

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) nlc_eval/_lockfile.py check $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip install --quiet -e '.[bench]' || echo "note: benchmark-only peers could not be installed; benchmarks that need them will say so"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nlc_eval)" >/dev/null
	touch $(STAMP)

demo: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/nlc-eval demo $(if $(OFFICIAL),--data $(OFFICIAL)) --jobs $(JOBS)

test: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/ruff check .
	NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) MPLBACKEND=Agg $(BIN)/python -m pytest tests
	NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) MPLBACKEND=Agg $(BIN)/python -m pytest --nbval-lax -p no:randomly notebooks

# Pin every dependency (runtime, test and dask extras) with hashes. Existing pins are kept;
# only new or changed declarations are resolved afresh (delete the lock to upgrade all).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dask --generate-hashes \
	  --python-version $(LOCK_PYTHON) --python-platform $(LOCK_PLATFORM) \
	  --no-header --no-annotate --quiet -o $(LOCK)
	$(PYTHON) nlc_eval/_lockfile.py stamp $(LOCK)

# The same tests against the newest release of every dependency (not the lock).
test-latest:
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip setuptools wheel
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test,dask]'
	$(LATEST)/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nlc_eval, latest)" >/dev/null
	$(LATEST)/bin/python -m pip list --format=freeze | grep -E -i '^(pandas|numpy|scipy|statsmodels|papermill|pandera)=='
	NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) MPLBACKEND=Agg $(LATEST)/bin/python -m pytest tests
	NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) MPLBACKEND=Agg $(LATEST)/bin/python -m pytest --nbval-lax -p no:randomly notebooks

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(LATEST) reports/*.html reports/*.ipynb reports/*.json build *.egg-info
