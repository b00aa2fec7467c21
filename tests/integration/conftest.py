"""Fixtures shared by the integration tests (the real peers live in notifications_peers.py)."""
import pytest
from aiosmtpd.controller import Controller

from services.notifications.service import NotificationsService
from tests.conftest import free_port
from tests.integration.notifications_peers import EventTap, Mailbox, Notifications, SmsProvider


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
