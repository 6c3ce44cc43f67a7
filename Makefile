# The front door: install, run, run-llm, worker, test, lint, bench, mode. Every target sets up .venv from the project's own files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
MODE ?=
SHARE ?=
FAKE_PORT ?= 9000
FAKE_LATENCY ?= 0.3
FAKE_FLAGS ?=
ADMIN_URL ?= http://$(HOST):$(PORT)
export HOST PORT WORKERS ADMIN_URL

.PHONY: install run run-llm worker fakellm test fuzz lint bench bench-quick chaos balance mode replay api-docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed

# The game on the embedded defaults: SQLite file under data/, rules parser, no API key needed.
run: install
	$(BIN)/python -m xianxia serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# The game wired to the local fake DeepSeek upstream (LLM mode async; admin token "dev-admin" unless set;
# FAKE_FLAGS=--contrary makes the fake disagree with the rules parser on purpose).
run-llm: install
	@$(BIN)/python -m tests.support.fakellm --host 127.0.0.1 --port $(FAKE_PORT) --latency $(FAKE_LATENCY) $(FAKE_FLAGS) & fake=$$!; \
	trap 'kill $$fake 2>/dev/null' EXIT INT TERM; \
	DEEPSEEK_API_KEY=$${DEEPSEEK_API_KEY:-fake-key} DEEPSEEK_BASE_URL=http://127.0.0.1:$(FAKE_PORT) \
	XIANXIA_LLM_MODE=$${XIANXIA_LLM_MODE:-async} XIANXIA_ADMIN_TOKEN=$${XIANXIA_ADMIN_TOKEN:-dev-admin} \
	XIANXIA_LLM_OPEN=$${XIANXIA_LLM_OPEN:-1} \
	$(BIN)/python -m xianxia serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# A Celery worker for queued LLM batches (XIANXIA_TASK_BROKER=redis://… and the app's other settings; docs/DEPLOYMENT.md).
CELERY_FLAGS ?=
worker: install
	@test -n "$$XIANXIA_TASK_BROKER" || { echo "set XIANXIA_TASK_BROKER=redis://host:6379/1 (and the app's settings)" >&2; exit 2; }
	$(BIN)/celery -A xianxia.worker worker --loglevel INFO $(CELERY_FLAGS)

# Only the fake upstream, e.g. for benchmarks or a game started by hand.
fakellm: install
	$(BIN)/python -m tests.support.fakellm --host 127.0.0.1 --port $(FAKE_PORT) --latency $(FAKE_LATENCY) $(FAKE_FLAGS)

# Coverage: branch coverage of xianxia/, subprocesses included, fails under 85% (pyproject [tool.coverage]).
test: install
	$(BIN)/coverage erase
	$(BIN)/pytest -q --cov --cov-branch --cov-report=term

# Schemathesis over the real app, rules-only and on the fake upstream, longer than make test's run
# (EXAMPLES per operation and phase; SEED to vary the run).
EXAMPLES ?= 200
SEED ?= 1
fuzz: install
	$(BIN)/python -m tests.support.fuzz --examples $(EXAMPLES) --sequences 100 --seed $(SEED)

lint: install
	$(BIN)/ruff check xianxia tests
	$(BIN)/ruff format --check xianxia tests
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r xianxia --severity-level medium

# Every scenario of docs/PERFORMANCE.md (about 10 minutes): bench-results/*.json|csv, docs/performance/*.png and
# the tables in docs/PERFORMANCE.md. BENCH_<SIZE>=... resizes a scenario (tests/bench/scenarios.py, Sizes).
bench: install
	$(BIN)/python -m tests.bench --profile full

# The same scenarios, small (under a minute): a smoke run of the harness, not figures to quote.
bench-quick: install
	$(BIN)/python -m tests.bench --profile quick

# Players on the LLM path while the fake upstream fails (40% 5xx, 10% 429), a worker is SIGKILLed, an instance
# reloaded (SIGHUP) and one drained (SIGTERM) and restarted; the ledger is checked against the store. SQLite (one
# instance), then PostgreSQL (two instances, a fresh schema); each once with the automatic rollback's thresholds
# above the injected faults (the LLM path stays on) and once below (it must fire). CHAOS_FLAGS: see --help.
CHAOS_FLAGS ?=
chaos: install
	$(BIN)/python -m tests.chaos.run --backend sqlite --rollback above $(CHAOS_FLAGS)
	$(BIN)/python -m tests.chaos.run --backend sqlite --rollback below $(CHAOS_FLAGS)
	$(BIN)/python -m tests.chaos.run --backend postgres --rollback above $(CHAOS_FLAGS)
	$(BIN)/python -m tests.chaos.run --backend postgres --rollback below $(CHAOS_FLAGS)

# Scripted players of four styles over fixed seeds: actions to 筑基, deaths, failures, stones (docs/WORLD.md).
balance: install
	$(BIN)/python -m tests.support.balance

# Show (no MODE) or switch the live LLM mode on a running server: make mode MODE=async|sync|off [SHARE=0.25]
mode: install
	$(BIN)/python -m xianxia mode $(MODE) --url $(ADMIN_URL) $(if $(SHARE),--share $(SHARE))

# Regenerate docs/API.md from the OpenAPI document and the error-code table (a test checks it is current).
api-docs: install
	$(BIN)/python -m tests.support.api_reference

replay: install
	$(BIN)/python -m xianxia replay $(PLAYER)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
