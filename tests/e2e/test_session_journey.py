"""A member's group session across the referrals and notifications services: accepted, invited, answers
with the link, comes; the case timeline, subject access and erasure all see it (their supporter too)."""
import json
from datetime import datetime, timedelta
from pathlib import Path

import requests

from services.common.envelope import utcnow
from services.notifications import sessions as rules
from services.notifications.service import NotificationsService
from services.referrals.sar import document_of_file
from services.referrals.service import ReferralsService
from tests.integration.sessions_support import SECRET, session_body
from tests.support import referral, wait_until


def test_a_members_session_reaches_the_case_timeline_subject_access_and_erasure(container_factory, service_config,
                                                                               tokens, key_store):
    urls, configs = {}, {}
    for service_cls in (ReferralsService, NotificationsService):
        config = configs[service_cls.name] = service_config(service_cls.name, REPLY_LINK_SECRET=SECRET)
        container_factory(service_cls, config).start()
        urls[service_cls.name] = f"http://{config['WEB_SERVER_ADDRESS']}"
    coordinator = {"Authorization": f"Bearer {tokens['coordinator']}", "Content-Type": "application/json"}
    admin = {"Authorization": f"Bearer {key_store.create('admin')[1]}"}

    def post(service, path, body, headers=coordinator):
        return requests.post(f"{urls[service]}{path}", data=json.dumps(body), headers=headers, timeout=15)

    created = post("referrals", "/referrals", referral(),
                   {"Authorization": f"Bearer {tokens['mind']}", "Content-Type": "application/json"}).json()
    case_id = created["case_id"]
    assert post("referrals", f"/cases/{case_id}/transitions", {"to": "accepted", "reason": "met"}).status_code == 200

    session = post("notifications", "/sessions", session_body(starts_in=timedelta(seconds=4))).json()
    session_id = session["session_id"]
    invited = wait_until(lambda: post("notifications", f"/sessions/{session_id}/invitations",
                                      {"all_accepted": True}).json().get("invited"),
                         message="the accepted member to be known and invited")
    assert invited == [case_id]

    def sent_invitation():
        log = requests.get(f"{urls['notifications']}/notifications", params={"case_id": case_id},
                           headers=coordinator, timeout=10).json()["items"]
        return [m for m in log if m["template"] == "person_session_invitation" and m["status"] == "sent"]

    (message,) = wait_until(sent_invitation, message="the invitation sent")
    # without SMTP settings the email waits in the drop folder, as on a laptop
    email = Path(configs["notifications"]["DATA_DIR"], "outgoing", "email",
                 f"{message['notification_id'].replace(':', '_')}.eml")
    link = next(w for w in email.read_text().split() if "/r/" in w)
    assert requests.post(link, data={"answer": "yes"}, timeout=10).status_code == 200

    starts_at = datetime.fromisoformat(session["starts_at"])
    wait_until(lambda: starts_at <= utcnow(), message="the session to start")
    recorded = post("notifications", f"/sessions/{session_id}/attendance", {"attended": [case_id]})
    assert recorded.status_code == 200, recorded.text

    day = f"{rules.london(starts_at).day} {rules.london(starts_at):%b}"

    def timeline_lines():
        case = requests.get(f"{urls['referrals']}/cases/{case_id}", headers=coordinator, timeout=10).json()
        summaries = [e["summary"] for e in case["timeline"]]
        wanted = {f"Said yes to the online session on {day} (with the reply link)",
                  f"Came to the online session on {day}"}
        return summaries if wanted <= set(summaries) else None

    summaries = wait_until(timeline_lines, message="the answer and the attendance on the timeline")
    assert not any("zoom.example.net" in s for s in summaries)

    supporter = post("notifications", "/supporters", {
        "case_id": case_id, "given_name": "Bea", "family_name": "Jones", "email": "bea@example.org",
        "preferred_contact": "email", "person_consent": {"obtained_by": "Alex Morgan", "obtained_on": "2026-11-20"}})
    assert supporter.status_code == 201, supporter.text
    document = requests.get(f"{urls['referrals']}/subject-access", params={"reference": created["reference"]},
                            headers=admin, timeout=15).json()
    (held,) = document["services"]["notifications"]["sessions"]["invitations"]
    assert (held["session_id"], held["answer"], held["attendance"]) == (session_id, "yes", "attended")
    (bea,) = document["services"]["notifications"]["sessions"]["supporters"]
    assert (bea["given_name"], bea["email"]) == ("Bea", "bea@example.org")
    page = requests.get(f"{urls['referrals']}/subject-access", headers=admin, timeout=15,
                        params={"reference": created["reference"], "format": "html"}).text
    assert "Group sessions: invitations, answers and attendance" in page
    assert document_of_file(page)["services"]["notifications"]["sessions"]["invitations"][0]["answer"] == "yes"

    erased = post("referrals", f"/cases/{case_id}/erasure", {"reason": "the person asked"})
    assert erased.status_code == 200, erased.text
    wait_until(lambda: requests.get(f"{urls['notifications']}/sessions/attendance", params={"case_id": case_id},
                                    headers=coordinator, timeout=10).json()["items"] == [],
               message="the person's session records erased")
    assert requests.get(f"{urls['notifications']}/supporters", params={"case_id": case_id}, headers=coordinator,
                        timeout=10).json()["items"] == []
    detail = requests.get(f"{urls['notifications']}/sessions/{session_id}", headers=coordinator, timeout=10).json()
    assert detail["invitations"] == [] and detail["status"] == "finished"
