# Two commands do all the set-up on a fresh Debian machine: `make demo` and `make test`.
# Python packages come from the lockfiles in requirements/ (hashes checked); `make lock` renews them.
VENV     := .venv
BIN      := $(VENV)/bin
LOCK     := requirements/test.txt
STAMP    := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
COMPILE  := $(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 -q

.PHONY: demo test lint typecheck unit bench clean system-deps lock mutate

$(STAMP): pyproject.toml $(LOCK)
	@scripts/python-venv.sh $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

system-deps:
	@scripts/system-deps.sh test

demo: $(STAMP)
	@scripts/system-deps.sh demo
	$(BIN)/accessward demo --dir demo-output

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: system-deps $(STAMP) lint typecheck unit

# Mutation testing of the safety modules ([tool.mutmut] in pyproject.toml) with the fast tests; not part of
# `make test` (it takes a long while). `make mutate MUTANTS="accessward.reconcile.plan*"` runs a subset.
mutate: $(STAMP)
	$(BIN)/mutmut run --max-children $(or $(JOBS),2) $(MUTANTS)
	$(BIN)/mutmut results

bench: system-deps $(STAMP)
	$(BIN)/python -m tests.bench.run

lock:
	@scripts/python-venv.sh $(VENV)
	$(BIN)/pip install --quiet uv
	$(COMPILE) -o requirements/main.txt
	$(COMPILE) --extra demo -o requirements/demo.txt
	$(COMPILE) --extra test -o requirements/test.txt
	printf 'setuptools>=77\n' | $(BIN)/uv pip compile - --universal --generate-hashes --python-version 3.11 -q \
		-o requirements/build.txt

clean:
	rm -rf $(VENV) demo-output bench-output mutants .pytest_cache .mypy_cache .ruff_cache
