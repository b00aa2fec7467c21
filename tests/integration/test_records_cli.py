"""`refhub audit`, `refhub sar export` and `refhub retention run` as an admin runs them."""
import json
from datetime import timedelta
import os
import stat
import subprocess
import sys

import requests

from services.common.audit import AuditChain, AuditRecord, entry_id
from services.common.envelope import utcnow
from services.notifications.service import NotificationsService
from services.referrals.sar import document_of_file
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService
from tests.conftest import MONGO_URI
from tests.support import referral


def refhub(*args, env):
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], capture_output=True, text=True,
                          timeout=90, env={**os.environ, "PYTHONWARNINGS": "ignore", **env})


def cli_env(databases, data_dir, rabbit_config=None):
    env = {"MONGO_URI": MONGO_URI, "REFHUB_DATA_DIR": str(data_dir), "AUTH_DB": databases["auth"],
           **{f"{s.upper()}_DB": databases[s] for s in ("referrals", "safety", "notifications")}}
    if rabbit_config:
        env["AMQP_URI"] = rabbit_config["AMQP_URI"]
    return env


def test_audit_verify_finds_an_edited_entry_and_audit_case_lists_it(mongo_client, databases, tmp_path):
    chain = AuditChain(mongo_client[databases["safety"]], "safety")
    chain.append([AuditRecord(actor=f"fire_officer:k{n}", role="fire_officer", action="visit_read",
                              case_id="case-9") for n in range(3)])
    env = cli_env(databases, tmp_path)
    intact = refhub("audit", "--verify", env=env)
    assert intact.returncode == 0, intact.stderr
    assert "safety: 3 entries, intact" in intact.stdout
    listed = refhub("audit", "--case", "case-9", env=env)
    assert [json.loads(line)["actor"] for line in listed.stdout.splitlines()] == [
        "fire_officer:k0", "fire_officer:k1", "fire_officer:k2"]
    chain.entries.update_one({"_id": entry_id("safety", 2)}, {"$set": {"case_id": "case-1"}})
    tampered = refhub("audit", "--verify", env=env)
    assert tampered.returncode == 1
    assert "safety: 3 entries, TAMPERED" in tampered.stdout and "entry 2 was changed" in tampered.stdout


def test_sar_export_writes_one_private_file_with_every_service(container_factory, service_config, rabbit_config,
                                                               tokens, databases, tmp_path):
    urls = {}
    for service_cls in (ReferralsService, SafetyService, NotificationsService):
        config = service_config(service_cls.name)
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    created = requests.post(f"{urls['referrals']}/referrals", data=json.dumps(referral()), timeout=10,
                            headers={"Authorization": f"Bearer {tokens['mind']}",
                                     "Content-Type": "application/json"}).json()
    out = tmp_path / "sar.html"
    result = refhub("sar", "export", "--reference", created["reference"], "--out", str(out),
                    env=cli_env(databases, tmp_path, rabbit_config))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = document_of_file(out.read_text())
    assert document["complete"] and set(document["services"]) == {"referrals", "safety", "notifications"}
    assert all(document["services"][s] is not None for s in document["services"])
    export = next(e for e in document["audit"] if e["action"] == "subject_access_export")
    assert export["actor"].startswith("cli:") and export["role"] == "admin"


def test_retention_dry_run_reports_and_changes_nothing(mongo_client, databases, tmp_path):
    db = mongo_client[databases["safety"]]
    db["dead_letters"].insert_one({"_id": "old", "parked_at": utcnow() - timedelta(days=45)})
    dry = refhub("retention", "run", "--dry-run", env=cli_env(databases, tmp_path))
    assert dry.returncode == 0, dry.stderr
    reports = {r["service"]: r for r in json.loads(dry.stdout)}
    assert reports["safety"]["dead_letters_deleted"] == 1 and reports["safety"]["dry_run"] is True
    assert db["dead_letters"].count_documents({}) == 1
    real = refhub("retention", "run", env=cli_env(databases, tmp_path))
    assert json.loads(real.stdout)[1]["dead_letters_deleted"] == 1
    assert db["dead_letters"].count_documents({}) == 0
