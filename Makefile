# Two commands for a fresh machine: `make run` and `make test`. Both set up .venv first and are idempotent:
# the second time, set-up is a timestamp check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.netspec-installed
# Pinned: an unpinned torch may pull a multi-GB build; these two are known to work together.
TORCH := torch==2.14.1 torchvision==0.29.1
# Every package at the version CI tested (refresh with `make lock`): a fresh machine installs those, not the
# registry's newest of the day. The project is built without isolation, so its build backend is pinned too.
LOCK := constraints.txt
PIP := python -m pip install --quiet --constraint $(LOCK)
CHECKED := netspec tests scripts bench fuzz

.PHONY: setup run test test-fast lint typecheck dot lock clean

setup: $(STAMP) dot

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP) pip setuptools
	$(BIN)/$(PIP) $(TORCH)
	$(BIN)/$(PIP) --no-build-isolation -e '.[test]'
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
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)

typecheck: $(STAMP)
	$(BIN)/mypy netspec

# The whole suite, a worker per core (pytest-xdist): under 5 minutes on 2 cores (docs/testing.md).
test: setup lint typecheck
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

# The quick tier to run while working: all but the tests marked slow, under a minute on 2 cores.
test-fast: setup
	$(BIN)/python -m pytest -q -n auto --dist loadgroup -m "not slow"

# Refresh the lock: the newest versions pyproject.toml allows, resolved into a scratch venv where lint, types
# and the whole suite must pass before constraints.txt is rewritten. One line: `make lock`.
LOCKVENV := .venv-lock
# torch stays at $(TORCH) (a constraint throughout: the eager upgrade would otherwise take the newest torch).
lock: dot
	rm -rf $(LOCKVENV)
	$(PYTHON) -m venv $(LOCKVENV)
	printf '%s\n' $(TORCH) > $(LOCKVENV)/torch.txt
	$(LOCKVENV)/bin/python -m pip install --quiet --upgrade pip setuptools
	$(LOCKVENV)/bin/python -m pip install --quiet --constraint $(LOCKVENV)/torch.txt $(TORCH)
	$(LOCKVENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager \
	  --constraint $(LOCKVENV)/torch.txt --no-build-isolation -e '.[test]'
	{ echo "# Written by \`make lock\` on $$(date -u +%Y-%m-%d) after the suite passed with these versions."; \
	  $(LOCKVENV)/bin/python -m pip freeze --all --exclude-editable --exclude netspec; } > $(LOCK).new
	$(LOCKVENV)/bin/ruff check $(CHECKED) && $(LOCKVENV)/bin/ruff format --check $(CHECKED)
	$(LOCKVENV)/bin/mypy netspec
	NETSPEC_LOCK=$(LOCK).new $(LOCKVENV)/bin/python -m pytest -q -p no:cacheprovider -n auto
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCKVENV)

clean:
	rm -rf $(VENV) $(LOCKVENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
