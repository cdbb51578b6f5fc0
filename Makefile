# Two commands on a fresh machine with only python3:
#   make serve   set up .venv and run the API + workers on SQLite with the simulator
#                (a new account's credentials go to ./opencomms.env, readable by you only)
#   make test    set up .venv with the test extras and run lint, types and the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve rotate-token test lint fuzz bench bench-smpp bench-fair-share bench-connectors bench-scale-out bench-single-sends clean

serve: $(VENV)/.installed
	@test -f opencomms.env || (umask 077 && $(BIN)/opencomms credentials > opencomms.env)
	@echo "credentials: ./opencomms.env"
	@set -a && . ./opencomms.env && set +a && exec $(BIN)/opencomms serve

# A new auth token for the account of ./opencomms.env, printed once and written there.
rotate-token: $(VENV)/.installed
	@set -a && . ./opencomms.env && set +a && \
		exec $(BIN)/opencomms rotate-token --env-file opencomms.env

test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q

# Opt-in (~15 min per engine): schemathesis over /v1/openapi.json, 10,000 cases per engine
# against a real server, no 5xx (the suite runs the same test with 1,000).
fuzz: $(VENV)/.installed-test
	FUZZ_CASES=$${FUZZ_CASES:-10000} $(BIN)/pytest -q -s -p no:logging tests/api/test_openapi_fuzz.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.created
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.created
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

# The benchmark suite (bench/README.md): every scenario of issue 5 against a real server,
# on SQLite and PostgreSQL; the table is printed, results and chart go to bench/results/.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

# Opt-in: opencomms over SMPP through Jasmin against Jasmin's own HTTP API (needs the peers
# that `.ci/peers.sh` installs, as root); results go to bench/results/smpp-vs-jasmin-http/.
bench-smpp: $(VENV)/.installed-bench
	$(BIN)/python -m bench --scenarios smpp-vs-jasmin-http --engines sqlite \
		--results bench/results/smpp-vs-jasmin-http $(BENCH_ARGS)

# Opt-in (~2 min): 1-recipient sends behind a 20,000-recipient campaign on a capped sender,
# one account then two; results go to bench/results/fair-share/.
bench-fair-share: $(VENV)/.installed-bench
	$(BIN)/python -m bench --scenarios fair-share --engines sqlite \
		--results bench/results/fair-share $(BENCH_ARGS)

# Opt-in (~6 min): the rbm and whatsapp connectors against their test peers, each beside a
# plain client sending straight to the peer, SQLite and PostgreSQL; results go to
# bench/results/connectors/.
bench-connectors: $(VENV)/.installed-bench
	$(BIN)/python -m bench --scenarios connectors --results bench/results/connectors $(BENCH_ARGS)

# Opt-in (~2 min, PostgreSQL): the end-to-end workload with `serve --workers N` for 1, 2 and
# 4 processes, each figure beside one process's; results go to bench/results/scale-out/.
bench-scale-out: $(VENV)/.installed-bench
	$(BIN)/python -m bench --scenarios scale-out --engines postgresql \
		--results bench/results/scale-out $(BENCH_ARGS)

# single-sends alone (~12 min; also part of `make bench`): 1-recipient POSTs at 500, 1,000,
# 2,000 a second and the maximum, and an idle server's latency; results go to
# bench/results/single-sends/.
bench-single-sends: $(VENV)/.installed-bench
	$(BIN)/python -m bench --scenarios single-sends --results bench/results/single-sends $(BENCH_ARGS)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.created
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
