"""The safety service reads its triage rules and overdue sweep interval from config at start."""
import json
from datetime import datetime, timedelta
from importlib.resources import files

import pytest
import requests

from services.common.envelope import utcnow
from services.safety.service import SafetyService
from services.safety.triage import TriageConfigError
from tests.integration.safety_support import auth, referral_received, send, start_safety

DEFAULT_RULES = json.loads(files("services.safety").joinpath("triage_rules.json").read_text(encoding="utf-8"))


def rules_file(tmp_path, **edits):
    """The default rules with {"dotted.key": value} edits, written to a file."""
    rules = json.loads(json.dumps(DEFAULT_RULES))
    for dotted, value in edits.items():
        *parents, leaf = dotted.split(".")
        target = rules
        for key in parents:
            target = target[key]
        target[leaf] = value
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    return str(path)


def test_a_rules_file_sets_the_target_times(container_factory, service_config, tmp_path, tokens):
    path = rules_file(tmp_path, **{"priorities.very_high.target_hours": 2})
    container, url, config = start_safety(container_factory, service_config, TRIAGE_RULES_PATH=path)
    received = utcnow().replace(microsecond=0)
    send(container, config, referral_received("case-1", received_at=received.isoformat()))
    [visit] = requests.get(f"{url}/visits", headers=auth(tokens["fire_officer"]), timeout=10).json()["items"]
    assert visit["priority"] == "very_high"
    assert datetime.fromisoformat(visit["due_by"]) == received + timedelta(hours=2)


def test_without_a_rules_file_the_packaged_defaults_apply(container_factory, service_config, tokens):
    container, url, config = start_safety(container_factory, service_config)
    received = utcnow().replace(microsecond=0)
    send(container, config, referral_received("case-1", received_at=received.isoformat()))
    [visit] = requests.get(f"{url}/visits", headers=auth(tokens["fire_officer"]), timeout=10).json()["items"]
    assert datetime.fromisoformat(visit["due_by"]) == received + timedelta(hours=4)


@pytest.mark.parametrize(("edits", "named"), [
    ({"priorities.high.cir_from": 12}, "priorities.high.cir_from"),
    ({"priorities.medium.target_hours": "a month"}, "priorities.medium.target_hours"),
    ({"hazard_flags": ["smoking"]}, "hazard_flags"),
])
def test_a_bad_rules_file_stops_the_service_naming_the_key(container_factory, service_config, tmp_path,
                                                          edits, named):
    config = service_config("safety", TRIAGE_RULES_PATH=rules_file(tmp_path, **edits))
    container = container_factory(SafetyService, config)
    with pytest.raises(TriageConfigError) as raised:
        container.start()
    assert f"'{named}" in str(raised.value)


def test_a_missing_rules_file_stops_the_service(container_factory, service_config, tmp_path):
    container = container_factory(SafetyService, service_config("safety",
                                                                TRIAGE_RULES_PATH=str(tmp_path / "nope.json")))
    with pytest.raises(TriageConfigError, match="cannot read"):
        container.start()


@pytest.mark.parametrize("interval", ["soon", 0, -5])
def test_a_bad_overdue_sweep_interval_stops_the_service(container_factory, service_config, interval):
    container = container_factory(SafetyService, service_config("safety", OVERDUE_SWEEP_SECONDS=interval))
    with pytest.raises(ValueError, match="OVERDUE_SWEEP_SECONDS"):
        container.start()
