# Slotwise: `make run` serves the embedded default with demo data; `make test` runs the suite.
PYTHON ?= $(shell scripts/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The test suite talks to real PostgreSQL and Redis; pytest-django creates test_<name> itself.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/slotwise
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
PYTEST_ARGS ?=

.PHONY: run test install install-dev lint format bench bench-quick worker screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# One process checks, migrates, collects static files and loads the demo data, each only
# when something changed since the last run (partners/management/commands/prepare_run.py),
# so a restart is quick. PORT reaches the server and beat: links made outside a request
# (beat's jobs) point at it.
run: install
	@mkdir -p var
	$(BIN)/python manage.py prepare_run
	@# Periodic jobs (hold expiry, outbox retries, reminders): without a broker, beat runs
	@# each task in its own process (eager mode); it stops with the server.
	PORT=$(PORT) $(BIN)/celery -A config beat --loglevel=warning --schedule var/celerybeat-schedule & \
		beat=$$!; trap 'kill $$beat 2>/dev/null' EXIT INT TERM; \
		PORT=$(PORT) $(BIN)/python manage.py runserver --noreload --skip-checks $(HOST):$(PORT)

# The suite runs in production mode (DATABASE_URL set), where the sandbox gateway is off by
# default; it opts in explicitly, as a staging demo would, to have an offline gateway, and
# names its SMS backend (production refuses to start without one; tests swap it per test).
# tests/payments/test_gateway_settings.py checks the real defaults in a clean environment.
test: install-dev
	mkdir -p staticfiles
	env -u DEBUG DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
		SECRET_KEY=test-only-secret-key-that-is-long-enough-for-hs256 CELERY_TASK_ALWAYS_EAGER=true \
		PAYMENT_SANDBOX_ENABLED=true PAYMENT_DEFAULT_GATEWAY=sandbox \
		SMS_BACKEND=notifications.sms.ConsoleSmsBackend \
		$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: install
	$(BIN)/celery -A config worker -B --loglevel=info

# Not part of `make test` or CI: drops and loads its own database (BENCH_DATABASE_URL,
# default slotwise_bench_run), needs wrk for the HTTP runs (apt-get install -y wrk).
bench: install-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: install-dev
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

# Headless Chromium (Debian's, apt-get installed when absent) logs in as the demo support
# user on an embedded server of its own and writes PNGs of the admin to var/screenshots/.
screenshots: install-dev
	$(BIN)/python scripts/screenshots.py $(SCREENSHOTS_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
