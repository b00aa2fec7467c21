"""The portal's dependencies: people's accounts (auth database), the services' APIs, its settings."""
from __future__ import annotations

from dataclasses import dataclass

import requests
from nameko.extensions import DependencyProvider

from services.common.mongo import connect
from services.common.people import PeopleStore


class People(DependencyProvider):
    """PeopleStore over the auth database. Config: MONGO_URI, AUTH_DB."""

    def setup(self):
        config = self.container.config
        self.client = connect(config.get("MONGO_URI", "mongodb://127.0.0.1:27017/"))
        self.store = PeopleStore(self.client[config.get("AUTH_DB", "refhub_auth")])
        self.store.ensure_indexes()

    def stop(self):
        self.client.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.store


@dataclass(frozen=True)
class PortalSettings:
    secure_cookies: bool
    public_url: str


class Settings(DependencyProvider):
    """PORTAL_SECURE_COOKIES (true behind HTTPS), PORTAL_PUBLIC_URL (for set-password links)."""

    def setup(self):
        config = self.container.config
        self.settings = PortalSettings(
            secure_cookies=str(config.get("PORTAL_SECURE_COOKIES", "false")).lower() == "true",
            public_url=str(config.get("PORTAL_PUBLIC_URL") or f"http://{config.get('WEB_SERVER_ADDRESS')}"))

    def get_dependency(self, worker_ctx):
        return self.settings


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status} {body.get('error')}")
        self.status, self.body = status, body


class ServiceClient:
    """Calls a service's HTTP API as the signed-in person (their session token as Bearer)."""

    def __init__(self, urls: dict[str, str]):
        self.urls = urls

    def as_person(self, page) -> "PersonClient":
        """This client bound to a page's signed-in person and correlation id."""
        return PersonClient(self, page.session_token, page.correlation_id)

    def call(self, service: str, method: str, path: str, *, token: str, correlation_id: str,
             json=None, params=None, idempotency_key: str | None = None) -> dict:
        response = self.request(service, method, path, token=token, correlation_id=correlation_id, json=json,
                                params=params, idempotency_key=idempotency_key)
        return _json(response)

    def find(self, service: str, path: str, *, token: str, correlation_id: str) -> dict | None:
        """GET one record, or None when the service answers 404 (the page says "not found")."""
        try:
            return self.call(service, "GET", path, token=token, correlation_id=correlation_id)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def request(self, service: str, method: str, path: str, *, token: str, correlation_id: str,
                json=None, params=None, idempotency_key: str | None = None) -> requests.Response:
        """The raw response (for a file such as a visit's .ics); ApiError for a 4xx or 5xx."""
        headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation_id}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        response = requests.request(method, self.urls[service] + path, json=json, params=params,
                                    headers=headers, timeout=15)
        if response.status_code >= 400:
            raise ApiError(response.status_code, _json(response))
        return response


class PersonClient:
    """ServiceClient's calls with the person's token and the page's correlation id filled in."""

    def __init__(self, client: ServiceClient, token: str, correlation_id: str):
        self.client, self.token, self.correlation_id = client, token, correlation_id

    def call(self, service: str, method: str, path: str, **kwargs) -> dict:
        return self.client.call(service, method, path, token=self.token, correlation_id=self.correlation_id,
                                **kwargs)

    def find(self, service: str, path: str) -> dict | None:
        return self.client.find(service, path, token=self.token, correlation_id=self.correlation_id)

    def request(self, service: str, method: str, path: str, **kwargs) -> requests.Response:
        return self.client.request(service, method, path, token=self.token, correlation_id=self.correlation_id,
                                   **kwargs)


def _json(response: requests.Response) -> dict:
    return response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}


class Services(DependencyProvider):
    """Config: REFERRALS_URL, SAFETY_URL, NOTIFICATIONS_URL (default: the local ports)."""

    def setup(self):
        config = self.container.config
        self.client = ServiceClient({
            "referrals": config.get("REFERRALS_URL") or "http://127.0.0.1:8000",
            "safety": config.get("SAFETY_URL") or "http://127.0.0.1:8001",
            "notifications": config.get("NOTIFICATIONS_URL") or "http://127.0.0.1:8002",
        })

    def get_dependency(self, worker_ctx):
        return self.client
