# Two entry points: `make run` (the whole conformance suite against the bundled reference server)
# and `make test` (the project's own tests). Both bootstrap .venv on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test test-slow serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/conformance run

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 -m "not slow"

# the slow tier: the other hostile targets and the wheel install (CI runs it too)
test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 -m slow

serve: $(STAMP)
	$(VENV)/bin/conformance serve --timings fast

clean:
	rm -rf $(VENV) reports/2* reports/latest
