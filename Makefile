# Two commands on a fresh machine: `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/signage demo $(ARGS)

test: $(STAMP) lint
	SDL_VIDEODRIVER=dummy PYGAME_HIDE_SUPPORT_PROMPT=1 $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check signage tests benchmarks content
	$(BIN)/ruff format --check signage tests benchmarks content
	$(BIN)/mypy signage benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/audience.py
	$(BIN)/python benchmarks/perception.py
	$(BIN)/python benchmarks/bodies.py
	$(BIN)/python benchmarks/player.py
	$(BIN)/python benchmarks/policy.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
