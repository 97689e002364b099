# Two commands do all the set-up on a fresh Debian machine: `make demo` and `make test`.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SYSDEPS := .venv/.system-deps

.PHONY: demo test lint typecheck unit bench clean system-deps

$(STAMP): pyproject.toml
	@scripts/python-venv.sh $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

system-deps:
	@scripts/system-deps.sh

demo: system-deps $(STAMP)
	$(BIN)/accessward demo --dir demo-output

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: system-deps $(STAMP) lint typecheck unit

bench: system-deps $(STAMP)
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) demo-output bench-output .pytest_cache .mypy_cache .ruff_cache
