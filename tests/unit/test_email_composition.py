"""compose_email: what a mail reader gets back is what was written, in every encoding path."""
from email import message_from_string, policy

import pytest

from services.notifications.channels import compose_email

SENDER = "Harrow Peer Support <peer-support@harrow.example.org>"


def _read(message):
    return message_from_string(message.as_string(), policy=policy.default)


def test_plain_ascii_message_has_one_text_part_and_the_headers_given():
    read = _read(compose_email(SENDER, "sam@example.org", "Your referral", "Hello Sam,\nSee you soon.",
                               headers={"Message-ID": "<abc@harrow.example.org>"}))
    assert read["From"] == SENDER and read["To"] == "sam@example.org"
    assert read["Subject"] == "Your referral" and read["Message-ID"] == "<abc@harrow.example.org>"
    assert read.get_content_type() == "text/plain"
    assert read.get_content() == "Hello Sam,\nSee you soon.\n"


def test_accents_in_subject_body_and_html_come_back_unchanged_and_the_file_stays_readable():
    message = compose_email(SENDER, "zoe@example.org", "Bienvenue, Zoë — welcome",
                            "Hello Zoë,\nThe group meets on Tuesday.", "<p>Hello Zoë</p>")
    raw = message.as_string()
    assert raw.isascii()                      # safe for any mail server
    assert "Hello Zo=C3=AB" in raw            # quoted-printable, not base64: a person can read the drop folder
    read = _read(message)
    assert read["Subject"] == "Bienvenue, Zoë — welcome"
    assert read.get_content_type() == "multipart/alternative"
    plain, html = read.get_body(("plain",)), read.get_body(("html",))
    assert plain.get_content() == "Hello Zoë,\nThe group meets on Tuesday.\n"
    assert html.get_content().strip() == "<p>Hello Zoë</p>"


def test_long_subject_is_folded_and_read_back_whole():
    subject = "A reminder about the online session " * 4
    raw = compose_email(SENDER, "sam@example.org", subject.strip(), "x").as_string()
    assert all(len(line) <= 998 for line in raw.splitlines())
    assert _read(compose_email(SENDER, "sam@example.org", subject.strip(), "x"))["Subject"] == subject.strip()


@pytest.mark.parametrize("to", ["zoë@example.org", "sam@exämple.org"])
def test_an_address_that_is_not_ascii_gets_a_message_that_can_ask_for_smtputf8(to):
    message = compose_email(SENDER, to, "Hello", "Hi", "<p>Hi</p>")
    assert message.policy.utf8 is False and type(message).__name__ == "EmailMessage"
    read = _read(message)
    assert read["To"] == to and read.get_body(("plain",)).get_content() == "Hi\n"


def test_a_long_message_id_stays_on_its_own_line_unchanged():
    message_id = "<3f401bb1-7e2a-45c4-bb5f-a65adee08d65_person_welcome_person@harrow-peer.example.org>"
    read = _read(compose_email(SENDER, "sam@example.org", "Welcome", "Hi", "<p>Hi</p>",
                               headers={"Message-ID": message_id}))
    assert read["Message-ID"] == message_id
