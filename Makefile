# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test soak lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gapps-runbook demo

test: $(STAMP)
	$(PY) -m pytest -q -ra

soak: $(STAMP)
	$(PY) -m pytest -q -ra -m soak -p no:cacheprovider tests

clean:
	rm -rf $(VENV) runs .pytest_cache
