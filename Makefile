# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test soak notebooks lint clean bench bench-batch

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gapps-runbook demo

test: $(STAMP)
	$(PY) -m pytest -q -ra

# The import contracts, ruff and mypy, as configured in pyproject.toml; .ci/run runs it before `make test`.
lint: $(STAMP)
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

# The full reliability trials (docs/reliability.md): one line per target, non-zero exit if any falls short;
# SOAK_JOBS pytest processes at once (tools/soak.py deals the trials out round-robin).
SOAK_JOBS ?= 3
soak: $(STAMP)
	rm -f .soak-report.txt
	GAPPS_SOAK_REPORT=$(CURDIR)/.soak-report.txt $(PY) -m tools.soak --jobs $(SOAK_JOBS) tests; \
	status=$$?; echo; echo "Reliability targets measured:"; sort -k3 .soak-report.txt 2>/dev/null; exit $$status

# Figures B1-B8 beside their targets, written to docs/performance.md (tools/, not installed); minutes, offline, not part of `make test`.
bench: $(STAMP)
	$(PY) -m tools.bench --out docs/performance.md

# Batch vs per-site processes, local and Dask (docs/scale.md); minutes, not part of `make test`.
bench-batch: $(STAMP)
	$(PY) -m tools.batch_bench --dask

# Re-render the committed notebooks' outputs (executed against the emulator, scrubbed, sanitized; see
# notebooks/README.md). Run it after changing a notebook or what a step displays, and commit the result.
notebooks: $(STAMP)
	$(PY) -m tools.render_notebooks

clean:
	rm -rf $(VENV) runs .pytest_cache
