# Two commands for a fresh machine: `make run` and `make test`. Both set up .venv first and are idempotent:
# the second time, set-up is a timestamp check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.netspec-installed
# Pinned: an unpinned torch may pull a multi-GB build; these two are known to work together.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: setup run test lint typecheck dot clean

setup: $(STAMP) dot

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# graphviz's `dot` renders diagrams; install it with apt-get when missing and we are root, else say how.
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing graphviz (dot) with apt-get"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "warning: could not install graphviz; .dot output still works"; \
	  else \
	    echo "note: graphviz's dot is missing; install it (apt-get install graphviz) to render diagrams"; \
	  fi; }

run: setup
	@mkdir -p out
	$(BIN)/netspec build specs/resnet101.yaml --diagram out/resnet101.svg

lint: $(STAMP)
	$(BIN)/ruff check netspec tests scripts bench fuzz
	$(BIN)/ruff format --check netspec tests scripts bench fuzz

typecheck: $(STAMP)
	$(BIN)/mypy netspec

test: setup lint typecheck
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
