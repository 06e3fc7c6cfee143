# The two commands of the README, and a few more for maintainers.
.PHONY: demo demo-tls test test-fast bench bootstrap bootstrap-test export routes lint

demo: bootstrap ## Generate the shopping-cart repository and run its hooks against a local sandbox
	.venv/bin/redis-scaffold demo --out demo/shopping-cart-redis

demo-tls: bootstrap ## The demo with tls: yes: every port TLS only, the pods' certificates from a local CA
	.venv/bin/redis-scaffold demo --tls --out demo/shopping-cart-redis

# Independent tests run in parallel (pytest-xdist, work stealing, longest modules first:
# tests/conftest.py). 8 workers on 2 cores: most of the wall time is waiting
# (Sentinel's timers in the failover stories, the typed interviews), so more workers than cores pays off
# (figures: docs/performance.md). TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 8
# The tests' scratch files (rendered repositories, git clones, venvs, terraform working
# directories) live on a RAM-backed tmpfs where the machine has one: on this VM's disk,
# creating and removing the suite's many small files cost more CPU than the tests'
# own work (docs/performance.md, "Scratch files on tmpfs"). TEST_TMP=... overrides.
TEST_TMP ?= $(shell bash scripts/test-tmp.sh)
PYTEST = TMPDIR=$(TEST_TMP) bash scripts/offline.sh .venv/bin/python -m pytest --basetemp=$(TEST_TMP)/pytest

test: bootstrap-test routes scan lint ## Run the test suite (real copier, terraform, kubectl, redis processes, moto)
	$(PYTEST) -n $(TEST_WORKERS)

lint: bootstrap-test ## ruff: the linter and the formatter, as a check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test-fast: bootstrap-test ## The quick loop: the suite without real servers and end-to-end tool chains (-m "not slow")
	$(PYTEST) -n $(TEST_WORKERS) -m "not slow"

bench: bootstrap-test ## Run the benchmarks and print their figures
	.venv/bin/python -m benchmarks

# The demo installs only what it runs (redis packages, .venv with the sandbox extra);
# the tests add node, Backstage's packages, ioredis, cookiecutter and the test extra.
bootstrap:
	bash scripts/bootstrap.sh

bootstrap-test:
	bash scripts/bootstrap.sh test

routes: ## The install routes' environments (copier alone, no extras, sandbox) for the offline tests
	bash scripts/route-venvs.sh >/dev/null

.PHONY: scan
scan: ## The security scanners' environment (checkov, zizmor) for the offline scan tests
	bash scripts/scan-venv.sh >/dev/null
