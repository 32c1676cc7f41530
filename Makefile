# Two entry points: `make demo` (the offline demo study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch. GPU users: install your CUDA torch into the venv first; an
# importable torch is never replaced.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install test lint demo clean

$(BIN)/xling: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/xling

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

demo: install
	$(BIN)/xling demo

clean:
	rm -rf $(VENV) runs .pytest_cache
