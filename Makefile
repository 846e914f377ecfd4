# credflow: the two commands are `make demo` and `make test` (see README.md).
# Each one builds .venv itself; nothing needs installing by hand beyond python3, git, make and apt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

ifeq ($(CI),true)
  HYPOTHESIS_PROFILE ?= ci
else
  HYPOTHESIS_PROFILE ?= dev
endif
export HYPOTHESIS_PROFILE

.PHONY: demo test lint typecheck docs pytest bench clean

# The example portal: two applications on 127.0.0.1:5000 and :5001 (PORTAL=sigma|certigna|defi|asp).
PORTAL ?= sage
demo: $(STAMP)
	$(BIN)/python -m examples.portal --portal $(PORTAL)

test: lint typecheck docs pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

# The browser tests (tests/browser, marker `browser`) run after the rest, in headless Chromium from
# Debian's package, which ensure-chromium.sh installs with apt when it is missing. They fail, never
# skip, when the browser cannot start.
pytest: $(STAMP)
	sh scripts/ensure-chromium.sh
	sh scripts/with-postgres.sh $(BIN)/pytest -m "not browser" --durations=15 --cov --cov-branch --cov-report=term --cov-fail-under=95
	$(BIN)/pytest -m browser -p no:cacheprovider tests/browser

bench: $(STAMP)
	$(BIN)/python -m bench

# The documentation site (mkdocs.yml, docs/): --strict fails on a broken link or anchor, a page
# missing from the nav, or a docstring the API reference cannot read. Built into .venv/site, never
# into the repository. `$(BIN)/mkdocs serve` serves it on 127.0.0.1:8000 while you write.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(VENV)/site

$(STAMP): pyproject.toml scripts/bootstrap-venv.sh
	PYTHON=$(PYTHON) sh scripts/bootstrap-venv.sh $(VENV)
	touch $(STAMP)

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache .hypothesis
