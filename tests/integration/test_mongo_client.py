"""Each service process opens one MongoClient, whichever of its dependencies needs the database."""
import pytest

from services.common.auth import ApiKeys
from services.common.consumer import DeliveryRetry
from services.common.mongo import MongoStore, shared_clients
from services.notifications.service import NotificationsService
from services.referrals.service import ReferralsService
from services.safety.service import SafetyService


@pytest.mark.parametrize("service_cls", [ReferralsService, SafetyService, NotificationsService])
def test_store_retries_and_keys_share_one_client(container_factory, service_config, service_cls):
    config = service_config(service_cls.name, OVERDUE_CHECK_SECONDS=3600)
    container = container_factory(service_cls, config)
    container.start()
    providers = {type(p): p for p in container.dependencies
                 if isinstance(p, (MongoStore, DeliveryRetry, ApiKeys))}
    assert set(providers) == {MongoStore, DeliveryRetry, ApiKeys}
    client = providers[MongoStore].client
    assert providers[DeliveryRetry].client is client and providers[ApiKeys].client is client
    assert client.admin.command("ping")["ok"] == 1
    users = shared_clients.users(config["MONGO_URI"])
    sharing = [p for p in container.dependencies if getattr(p, "client", None) is client]  # audit, retention too
    assert users >= len(sharing) >= 3

    container.stop()
    assert shared_clients.users(config["MONGO_URI"]) == users - len(sharing)
