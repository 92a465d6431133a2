# Two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint unit bench compat clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pointsman demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_gateway.py

compat: $(STAMP)
	$(BIN)/python scripts/compat_table.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-output

# Retrain the shipped complexity classifier (MMLU + GSM8K from the public RouteLLM data).
ROUTELLM ?= ../shared/data/routing/routellm
.PHONY: train-router
train-router: $(STAMP)
	$(BIN)/pointsman route train \
	  --data $(ROUTELLM)/mmlu --exclude $(ROUTELLM)/mmlu/contaminated_prompts.jsonl \
	  --data $(ROUTELLM)/gsm8k/gsm8k_responses.csv \
	  --exclude $(ROUTELLM)/gsm8k/contaminated_prompts.jsonl \
	  --weak mistralai/Mixtral-8x7B-Instruct-v0.1 --strong gpt-4-1106-preview \
	  --out src/pointsman/data/router_model.json
