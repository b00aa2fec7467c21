"""`refhub audit` and `refhub sar export`.

`audit --case` and `audit --verify` read each service's audit chain from its own database (the CLI
runs beside the data, and works when a service is down). `sar export` asks the referrals service over
the broker, which gathers the others and records the export in its audit chain.
"""
from __future__ import annotations

import getpass
import os
from pathlib import Path

from services.common.audit import AuditChain, public_entry
from services.common.config import SERVICES
from services.common.gather import DEFAULT_TIMEOUT_SECONDS, jsonable
from services.common.mongo import connect


def chains(settings) -> list[AuditChain]:
    client = connect(settings.effective_mongo_uri)
    return [AuditChain(client[settings.database(service)], service) for service in SERVICES]


def case_trail(settings, case_id: str) -> list[dict]:
    items = [public_entry(e) for chain in chains(settings) for e in chain.for_case(case_id)]
    return sorted(jsonable(items), key=lambda e: (e["at"], e["service"]))


def verify(settings) -> list:
    return [chain.verify() for chain in chains(settings)]


def operator() -> str:
    return f"cli:{getpass.getuser()}"


def export_subject_access(settings, reference: str, out: Path, timeout: float | None = None) -> dict:
    """Ask the referrals service for the document, write it as one HTML file with the JSON inside (0600)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.referrals.sar import render_html

    # the referrals service waits for its peers for GATHER_TIMEOUT_SECONDS: allow it that and more
    wait = timeout or DEFAULT_TIMEOUT_SECONDS * 3
    with ClusterRpcProxy({"AMQP_URI": settings.amqp_uri}, timeout=wait) as rpc:
        document = rpc.referrals.subject_access(reference, operator())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the person's data
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_html(document))
    os.chmod(out, 0o600)
    return document
