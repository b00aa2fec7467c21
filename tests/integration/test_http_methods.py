"""Every service, over real HTTP: an undeclared method on a known route is 405 with `Allow`;
an unknown route is 404; both answer in JSON like every other error."""
import pytest
import requests

from services.referrals.service import ReferralsService
from tests.integration.safety_support import start_safety

# (service, method, path, what the route does answer)
CASES = [
    ("referrals", "DELETE", "/referrals", "GET, HEAD, POST"),   # GET: the caller's referrals (the portal)
    ("referrals", "PUT", "/referrals", "GET, HEAD, POST"),
    ("referrals", "PUT", "/cases/case-1", "GET, HEAD"),
    ("referrals", "GET", "/cases/case-1/transitions", "POST"),
    ("referrals", "POST", "/health", "GET, HEAD"),
    ("safety", "POST", "/visits", "GET, HEAD"),
    ("safety", "PATCH", "/visits/visit-1", "GET, HEAD"),
    ("safety", "GET", "/visits/visit-1/outcome", "POST"),
    ("safety", "DELETE", "/openapi.json", "GET, HEAD"),
    ("notifications", "POST", "/notifications", "GET, HEAD"),
    ("notifications", "DELETE", "/health", "GET, HEAD"),
]


@pytest.fixture
def urls(container_factory, service_config, start_notifications):
    """The three services, running; the safety service as its own tests start it."""
    referrals = service_config("referrals")
    container_factory(ReferralsService, referrals).start()
    _, safety_url, _ = start_safety(container_factory, service_config)
    return {"referrals": f"http://{referrals['WEB_SERVER_ADDRESS']}", "safety": safety_url,
            "notifications": start_notifications().url}


def test_undeclared_methods_are_405_with_allow_and_unknown_routes_404(urls):
    for service, method, path, allowed in CASES:
        response = requests.request(method, f"{urls[service]}{path}", timeout=10)
        assert response.status_code == 405, (service, method, path, response.text)
        assert response.headers["Allow"] == allowed, (service, method, path)
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["error"] == "method_not_allowed" and body["allowed"] == allowed.split(", ")
        assert method in body["message"]

    for service, url in urls.items():
        for method in ("GET", "POST", "DELETE"):
            response = requests.request(method, f"{url}/no/such/route", timeout=10)
            assert response.status_code == 404, (service, method)
            assert "Allow" not in response.headers
            assert response.json()["error"] == "not_found"
        # the declared method still reaches the route itself
        assert requests.get(f"{url}/health", timeout=10).status_code == 200, service
