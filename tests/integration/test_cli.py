"""The refhub command line, as a newcomer runs it."""
import os
import subprocess
import sys

import pytest

from services.cli import stack
from services.common.config import load_settings
from tests.conftest import MONGO_URI


def refhub(*args, env=None):
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})


def test_keys_create_prints_the_token_last_and_it_authenticates(databases, key_store):
    env = {"MONGO_URI": MONGO_URI, "AUTH_DB": databases["auth"]}
    created = refhub("keys", "create", "--role", "partner", "--agency", "mind", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("rh_")
    principal = key_store.principal(f"Bearer {token}")
    assert (principal.role, principal.agency) == ("partner", "mind")
    listed = refhub("keys", "list", env=env)
    assert principal.key_id in listed.stdout and token not in listed.stdout


def test_keys_create_refuses_a_partner_without_agency(databases):
    result = refhub("keys", "create", "--role", "partner", env={"MONGO_URI": MONGO_URI, "AUTH_DB": databases["auth"]})
    assert result.returncode == 2 and "--agency" in result.stderr


def test_stack_up_says_what_to_install_without_go_or_mongo_uri(monkeypatch, tmp_path):
    monkeypatch.setattr(stack, "CACHE_BIN", tmp_path / "bin")
    monkeypatch.setattr(stack.shutil, "which", lambda name: None)
    monkeypatch.setattr(stack.Path, "exists", lambda self: False)
    with pytest.raises(stack.StackError) as refused:
        stack.mongowire_binary()
    assert "MONGO_URI" in str(refused.value) and "Go" in str(refused.value)


def test_stack_status_reports_each_component(monkeypatch):
    monkeypatch.setenv("REFERRALS_PORT", "1")  # nothing listens there
    result = refhub("stack", "status", env={"REFERRALS_PORT": "1", "SAFETY_PORT": "1", "NOTIFICATIONS_PORT": "1",
                                            "MONGO_URI": MONGO_URI})
    lines = dict(line.split() for line in result.stdout.strip().splitlines())
    assert lines["rabbitmq"] == "up" and lines["database"] == "up"
    assert lines["referrals"] == "down"
    assert result.returncode == 1  # not everything is up
    assert load_settings().ports["referrals"] == 1
