# osa-inventory developer tasks.
#
#   make demo    build the example deployment in build/demo and print its inventory
#   make test    lint, format check, type check (mypy src) and the test suite
#   make bench   time `osa-inventory --list` (file, SQL, etcd) and ansible-playbook on
#                generated deployments
#
# Everything runs from the project's own virtual environment (.venv), which
# is created on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

DEMO_SRC   := examples/demo
DEMO_BUILD := build/demo

.PHONY: venv demo test bench clean

venv: $(VENV)/.installed

# Re-installed whenever pyproject.toml changes (new dependencies, entry points).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The demo writes its store into the --config dir, so it runs on a fresh copy
# in build/ and never touches examples/.
demo: venv
	rm -rf $(DEMO_BUILD)
	mkdir -p $(dir $(DEMO_BUILD))
	cp -R $(DEMO_SRC) $(DEMO_BUILD)
	$(BIN)/osa-inventory --config $(DEMO_BUILD) --environment $(DEMO_SRC) --list
	@echo
	@echo "Stored inventory: $(DEMO_BUILD)/openstack_inventory.json"

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src
	$(BIN)/pytest -q

# Each bench exits non-zero when a target of issue 16 is missed; all three run
# whatever the others found, and make fails if any missed.
bench: venv
	@status=0; \
	for b in bench/bench_list.py bench/bench_backends.py bench/bench_ansible.py; do \
		echo "== $$b"; $(BIN)/python $$b || status=1; \
	done; \
	exit $$status

clean:
	rm -rf build
