"""The invitation's answer page in Chromium: by mouse and by keyboard, at 320 px, axe-core clean."""
from __future__ import annotations

from services.notifications.service import NotificationsService
from tests.browser.conftest import check_page
from tests.integration.notifications_peers import Notifications
from tests.integration.sessions_support import SECRET, SessionDesk


def start(container_factory, service_config, mongo_client, databases, tokens, tmp_path) -> SessionDesk:
    config = service_config("notifications", REPLY_LINK_SECRET=SECRET, DROP_DIR=str(tmp_path / "outgoing"))
    container = container_factory(NotificationsService, config)
    container.start()
    return SessionDesk(Notifications(container, config, mongo_client[databases["notifications"]]), tokens)


def test_a_member_answers_by_mouse_then_changes_their_mind_by_keyboard(page, container_factory, service_config,
                                                                       mongo_client, databases, tokens, tmp_path):
    desk = start(container_factory, service_config, mongo_client, databases, tokens, tmp_path)
    ada = desk.member()
    session = desk.create(kind="face_to_face", capacity=4)
    desk.invite(session["session_id"], case_ids=[ada])
    link = desk.reply_link(ada)

    page.goto(link)
    assert page.title().startswith("Can you come?")
    assert "face-to-face session" in page.locator("main").inner_text()
    check_page(page, "session-reply-question")
    page.get_by_role("button", name="Yes, I will come").click()
    page.get_by_role("heading", name="Thank you, see you there").wait_for()
    check_page(page, "session-reply-yes")
    assert desk.answers(session["session_id"]) == {ada: "yes"}

    page.set_viewport_size({"width": 320, "height": 700})
    page.goto(link)
    assert "You told us: yes" in page.locator("main").inner_text()
    no = page.get_by_role("button", name="No, not this time")
    for _ in range(10):  # keyboard only: Tab until the No button has focus, then Enter
        page.keyboard.press("Tab")
        if no.evaluate("button => document.activeElement === button"):
            break
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Thank you for letting us know").wait_for()
    check_page(page, "session-reply-no-320px")
    assert desk.answers(session["session_id"]) == {ada: "no"}

    page.goto(link.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAA")
    page.get_by_role("heading", name="This link does not work").wait_for()
    check_page(page, "session-reply-forged")
    assert desk.answers(session["session_id"]) == {ada: "no"}
