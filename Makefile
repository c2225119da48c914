# Every target creates .venv and installs what it needs on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean messages

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tikiti demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check tikiti tests bench migrations
	$(VENV)/bin/ruff format --check tikiti tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench.holds
	$(PY) -m bench.ussd
	$(PY) -m bench.checkin

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg --no-default-keywords -k t -k translate:2 -k _:2 \
		--project=Tikiti --copyright-holder=Tikiti --no-location --sort-output \
		-o tikiti/locale/tikiti.pot .
	$(VENV)/bin/pybabel update -i tikiti/locale/tikiti.pot -d tikiti/locale -D tikiti --no-fuzzy-matching
