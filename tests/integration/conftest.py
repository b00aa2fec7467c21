"""Fixtures shared by the integration tests (the real peers live in notifications_peers.py)."""
import json

import pytest
import requests
from aiosmtpd.controller import Controller

from services.notifications.service import NotificationsService
from services.referrals.service import ReferralsService
from tests.conftest import free_port
from tests.integration.notifications_peers import EventTap, Mailbox, Notifications, SmsProvider
from tests.support import referral


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def sms_provider():
    provider = SmsProvider()
    provider.thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


@pytest.fixture
def tap(rabbit_config):
    events = EventTap(rabbit_config["AMQP_URI"])
    yield events
    events.close()


@pytest.fixture
def start_notifications(container_factory, service_config, mongo_client, databases, tmp_path, tap):
    """Starts the service; `tap` stands in for its consumers, so its events are routable."""
    def start(**overrides) -> Notifications:
        settings = {"NOTIFY_BACKOFF_SECONDS": 0.2, "LETTER_DIR": str(tmp_path / "letters"),
                    "DROP_DIR": str(tmp_path / "outgoing"), **overrides}
        config = service_config("notifications", **settings)
        container = container_factory(NotificationsService, config)
        container.start()
        return Notifications(container, config, mongo_client[databases["notifications"]])
    return start


@pytest.fixture
def api(container_factory, service_config, tokens, mongo_client, databases):
    config = service_config("referrals")
    container = container_factory(ReferralsService, config)
    container.start()
    return Api(f"http://{config['WEB_SERVER_ADDRESS']}", tokens, config, container,
               mongo_client[databases["referrals"]]["cases"])


class Api:
    def __init__(self, base, tokens, config, container, cases):
        self.base, self.tokens, self.config, self.container, self.cases = base, tokens, config, container, cases

    def call(self, method, path, who, body=None, headers=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **(headers or {})}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kwargs["data"] = json.dumps(body)
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=15, **kwargs)

    def refer(self, body=None, who="mind", key=None):
        return self.call("POST", "/referrals", who, body or referral(),
                         headers={"Idempotency-Key": key} if key else None)

    def case(self, case_id):
        return self.call("GET", f"/cases/{case_id}", "coordinator").json()

    def move(self, case_id, to, reason="checked with the person"):
        return self.call("POST", f"/cases/{case_id}/transitions", "coordinator", {"to": to, "reason": reason})
