"""`refhub users ...`: accounts for people, the set-password link printed last."""
from services.common.people import PeopleStore
from tests.conftest import MONGO_URI
from tests.integration.test_cli import refhub


def test_users_create_list_reset_disable(databases, mongo_client):
    env = {"MONGO_URI": MONGO_URI, "AUTH_DB": databases["auth"], "PORTAL_PUBLIC_URL": "http://portal.example:8080"}
    people = PeopleStore(mongo_client[databases["auth"]])
    created = refhub("users", "create", "--email", "Sam@Example.org", "--role", "partner", "--agency", "mind",
                     "--name", "Sam Patel", env=env)
    assert created.returncode == 0, created.stderr
    link = created.stdout.strip().splitlines()[-1]
    assert link.startswith("http://portal.example:8080/set-password/sp_")
    assert people.link_holder(link.rsplit("/", 1)[1])["email"] == "sam@example.org"

    listed = refhub("users", "list", env=env).stdout
    assert "sam@example.org" in listed and "no password yet" in listed and "sp_" not in listed

    again = refhub("users", "reset", "sam@example.org", env=env)
    new_link = again.stdout.strip().splitlines()[-1]
    assert new_link != link and people.link_holder(link.rsplit("/", 1)[1]) is None
    assert people.link_holder(new_link.rsplit("/", 1)[1]) is not None

    assert refhub("users", "disable", "sam@example.org", env=env).returncode == 0
    assert "disabled" in refhub("users", "list", env=env).stdout
    assert people.link_holder(new_link.rsplit("/", 1)[1]) is None


def test_users_create_refuses_clearly_and_changes_nothing(databases, mongo_client):
    env = {"MONGO_URI": MONGO_URI, "AUTH_DB": databases["auth"]}
    no_agency = refhub("users", "create", "--email", "a@example.org", "--role", "partner", env=env)
    assert no_agency.returncode == 2 and "agency" in no_agency.stderr
    bad_email = refhub("users", "create", "--email", "not-an-email", "--role", "coordinator", env=env)
    assert bad_email.returncode == 2 and "email address" in bad_email.stderr
    assert refhub("users", "create", "--email", "c@example.org", "--role", "coordinator", env=env).returncode == 0
    twice = refhub("users", "create", "--email", "C@example.org", "--role", "coordinator", env=env)
    assert twice.returncode == 2 and "already" in twice.stderr
    assert mongo_client[databases["auth"]]["people"].count_documents({}) == 1
    unknown = refhub("users", "reset", "nobody@example.org", env=env)
    assert unknown.returncode == 2 and "no account" in unknown.stderr


def test_stack_status_covers_the_portal():
    result = refhub("stack", "status", env={"PORTAL_PORT": "1"})
    lines = dict(line.split() for line in result.stdout.strip().splitlines())
    assert lines["portal"] == "down"
