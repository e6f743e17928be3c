# The two commands of the README: `make demo` and `make test`.
# Each creates .venv if absent and installs the package with its extras first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nlc-eval-installed
# Official gov.scot files: NLC_EVAL_OFFICIAL_DATA if set, else ../shared/data/scotgov if present.
OFFICIAL ?= $(abspath $(or $(NLC_EVAL_OFFICIAL_DATA),$(wildcard ../shared/data/scotgov)))
JOBS ?= 2

# Headless Chromium + chromedriver (Debian) and axe-core (npm, under .venv/axe, not committed):
# the browser tests, and the PDF copies of the reports.
BROWSER_STAMP := $(VENV)/.nlc-eval-browser
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint install bench clean browser

install: $(STAMP) $(BROWSER_STAMP)

browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }
	test -f $(AXE) || npm install --prefix $(VENV)/axe --no-audit --no-fund --silent axe-core@4
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'
	$(BIN)/python -m pip install --quiet -e '.[bench]' || echo "note: benchmark-only peers could not be installed; benchmarks that need them will say so"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (nlc_eval)" >/dev/null
	touch $(STAMP)

demo: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/nlc-eval demo $(if $(OFFICIAL),--data $(OFFICIAL)) --jobs $(JOBS)

test: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/ruff check .
	NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) MPLBACKEND=Agg $(BIN)/python -m pytest tests
	NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) MPLBACKEND=Agg $(BIN)/python -m pytest --nbval-lax -p no:randomly notebooks

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do NLC_EVAL_OFFICIAL_DATA=$(OFFICIAL) $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) reports/*.html reports/*.ipynb reports/*.json build *.egg-info
