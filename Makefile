# referral-hub: `make run` runs the whole system, `make test` runs the tests.
# Both install what they need first (a virtualenv; RabbitMQ and the Mongo-wire server).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORTAL_CSS := services/portal/static/build/portal.css

.PHONY: install run test stop status chromium

install: $(VENV)/.installed $(PORTAL_CSS)

# GOV.UK Frontend from npm, compiled with the group's colours and the system font (services/portal/styles)
$(PORTAL_CSS): services/portal/package.json services/portal/package-lock.json services/portal/styles/portal.scss
	cd services/portal && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# The browser tests drive Debian's chromium (Playwright's own download is unreachable)
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || { echo "install chromium: apt-get install chromium (as root)" >&2; exit 1; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools<81" wheel
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: install
	$(BIN)/refhub stack up

test: install chromium
	$(BIN)/refhub stack up --infra-only
	$(BIN)/python -m pytest $(PYTEST_ARGS)

stop:
	$(BIN)/refhub stack down

status:
	$(BIN)/refhub stack status
