# referral-hub: `make run` runs the whole system, `make test` runs the tests.
# Both install what they need first (a virtualenv; RabbitMQ and the Mongo-wire server).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install run test stop status

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools<81" wheel
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: install
	$(BIN)/refhub stack up

test: install
	$(BIN)/refhub stack up --infra-only
	$(BIN)/python -m pytest $(PYTEST_ARGS)

stop:
	$(BIN)/refhub stack down

status:
	$(BIN)/refhub stack status
