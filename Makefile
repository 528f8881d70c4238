# The two commands of the README: `make lab` (run the workbench) and `make test` (run every test).
# Both create .venv when it is missing and install from constraints.txt (torch==2.14.1, torchvision==0.29.1).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# the stamps name this checkout, so a venv shared between clones (CI's cache) re-points the editable install
HERE := $(shell printf '%s' "$(CURDIR)" | cksum | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(HERE)
TEST_STAMP := $(VENV)/.installed-test-$(HERE)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 8888
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: lab labs app test test-fast lint install install-test chromium bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install -c constraints.txt -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP) install -c constraints.txt -e ".[test]"
	touch $@

install: $(RUN_STAMP)
install-test: $(TEST_STAMP)

## run the workbench: JupyterLab on 127.0.0.1 (token on, no browser popup), opening the start-here notebook
lab: $(RUN_STAMP)
	$(VENV)/bin/jupyter lab --ip 127.0.0.1 --port $(PORT) --no-browser $(ALLOW_ROOT) --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb

## the whole recipe as one page (Voilà on 127.0.0.1, token on): FOLDER=path/to/ImageFolder, default the digits
app: $(RUN_STAMP)
	$(PY) -m workbench app $(if $(FOLDER),--folder $(FOLDER)) --port $(PORT)

## Debian's chromium for the browser tests (never `playwright install`)
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

## lint (ruff, rules in pyproject.toml) and type-check the core (mypy, packages in pyproject.toml)
lint: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

## run the tests: lint and type check first, then every test, browser tests included
test: $(TEST_STAMP) chromium
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

## while working: everything but the browser and notebook tests (no lint or type check)
test-fast: $(TEST_STAMP)
	$(PY) -m pytest -m "not browser and not slow"

labs: $(RUN_STAMP)
	$(PY) tools/make_labs.py

bench: $(RUN_STAMP)
	$(PY) benchmarks/train_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
