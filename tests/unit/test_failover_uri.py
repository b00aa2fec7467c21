"""AMQP_URI with several brokers: kombu's `;`-separated failover form, read the same by pika code."""
import pytest
from kombu import Connection

from services.common.config import amqp_uris, check_amqp_uri, pika_parameters
from services.common.consumer import current_queue, handler_queue

CLUSTER = ("amqp://refhub:s3cret@rabbit1:5672/refhub; amqp://refhub:s3cret@rabbit2:5673/refhub;"
           "amqp://refhub:s3cret@rabbit3:5674/refhub;")


def test_a_single_uri_is_a_list_of_one():
    assert amqp_uris("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_several_uris_split_on_semicolons_with_blanks_dropped():
    assert amqp_uris(CLUSTER) == ["amqp://refhub:s3cret@rabbit1:5672/refhub",
                                  "amqp://refhub:s3cret@rabbit2:5673/refhub",
                                  "amqp://refhub:s3cret@rabbit3:5674/refhub"]


@pytest.mark.parametrize("bad", ["", " ; ", "amqp://a:b@rabbit1/;rabbit2:5672"])
def test_an_entry_that_is_not_a_url_is_refused_without_echoing_credentials(bad):
    with pytest.raises(ValueError) as error:
        amqp_uris(bad)
    assert "s3cret" not in str(error.value)


def test_pika_gets_one_parameter_set_per_broker_in_order():
    params = pika_parameters(CLUSTER.replace("amqp://", "pyamqp://", 1), socket_timeout=2)
    assert [(p.host, p.port, p.virtual_host) for p in params] == [
        ("rabbit1", 5672, "refhub"), ("rabbit2", 5673, "refhub"), ("rabbit3", 5674, "refhub")]
    assert all(p.socket_timeout == 2 and p.credentials.username == "refhub" for p in params)


def test_kombu_reads_the_same_string_as_a_primary_and_alternates_it_fails_over_to():
    connection = Connection(check_amqp_uri(CLUSTER.replace(" ", "").rstrip(";")))
    assert (connection.hostname, connection.port) == ("rabbit1", 5672)
    connection.maybe_switch_next()
    assert (connection.hostname, connection.port, connection.virtual_host) == ("rabbit2", 5673, "refhub")
    connection.maybe_switch_next()
    connection.maybe_switch_next()
    assert connection.hostname == "rabbit1"  # round-robin


def test_dead_letters_parked_before_quorum_queues_replay_to_todays_queue():
    old = "evt-referrals-referral_received--safety.assess_referral"
    assert current_queue(old) == handler_queue("referrals", "referral_received", "safety", "assess_referral")
    assert current_queue(current_queue(old)) == current_queue(old)


@pytest.mark.parametrize("sloppy", [CLUSTER, CLUSTER.replace(" ", ""), "amqp://a:b@r1/; amqp://a:b@r2/"])
def test_a_list_kombu_would_misread_is_refused_at_start(sloppy):
    # kombu takes a trailing `;` for an empty alternate that silently means localhost
    assert Connection(CLUSTER.replace(" ", "")).alt[-1] == ""
    with pytest.raises(ValueError, match="empty entry or spaces"):
        check_amqp_uri(sloppy)


def test_a_clean_list_or_a_single_uri_passes_unchanged():
    clean = "amqp://a:b@r1:5672/;amqp://a:b@r2:5672/"
    assert check_amqp_uri(clean) == clean
    assert check_amqp_uri("amqp://guest:guest@127.0.0.1:5672/") == "amqp://guest:guest@127.0.0.1:5672/"
