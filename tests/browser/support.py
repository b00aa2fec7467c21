"""What a person does in the portal, by mouse or by keyboard alone."""
from __future__ import annotations

from services.cli.main import main as refhub

PASSWORD = "teal kettle harbour lantern"


def create_account(capsys, email: str, role: str = "partner", agency: str | None = "mind",
                   name: str = "Sam Patel") -> str:
    """`refhub users create ...`; returns the set-password link, the last line printed."""
    argv = ["users", "create", "--email", email, "--role", role, "--name", name]
    assert refhub(argv + (["--agency", agency] if agency else [])) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


# The referral as a person fills it in: (label, value) for text boxes, in form order.
PERSON = [("First name", "Ada"), ("Last name", "Jones")]
DATE_OF_BIRTH = ("29", "2", "1956")
ADDRESS = [("Address line 1", "12 Station Road"), ("Town or city", "Harrow")]
PHONE = ("Phone number (optional)", "07700 900123")
CONSENT_BY = ("Who asked for their agreement?", "Sam Patel")
CONSENT_ON = ("20", "11", "2026")
LIVING_ROOM = ("Living room", "7")
FIRE_YES = {"Do they smoke at home?", "Are doors, stairs or hallways blocked by belongings?",
            "Do they live alone?"}
FIRE_QUESTIONS = ["Do they smoke at home?", "Do they use medical oxygen at home?", "Do they live alone?",
                  "Would they find it hard to get out quickly, for example because of mobility?",
                  "Have they had a fire at home before?",
                  "Are doors, stairs or hallways blocked by belongings?"]


def fill_referral_with_mouse(page, postcode: str) -> None:
    for label, value in PERSON:
        page.get_by_label(label, exact=True).fill(value)
    _date_by_mouse(page, "Date of birth", DATE_OF_BIRTH)
    for label, value in ADDRESS:
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Postcode", exact=True).fill(postcode)
    page.get_by_label(PHONE[0], exact=True).fill(PHONE[1])
    page.get_by_label("Text message").check()
    page.get_by_label("They agreed to be referred to the peer support group").check()
    _yes_no(page, "Did they agree that we share their details with the London Fire Brigade?", True)
    page.get_by_label(CONSENT_BY[0]).fill(CONSENT_BY[1])
    _date_by_mouse(page, "When did they agree?", CONSENT_ON)
    page.get_by_label(LIVING_ROOM[0], exact=True).fill(LIVING_ROOM[1])
    for question in FIRE_QUESTIONS:
        _yes_no(page, question, question in FIRE_YES)
    page.get_by_label("A Home Fire Safety Visit from the London Fire Brigade").check()


def _date_by_mouse(page, legend, parts):
    group = page.get_by_role("group", name=legend)
    for label, value in zip(("Day", "Month", "Year"), parts):
        group.get_by_label(label, exact=True).fill(value)


def _yes_no(page, legend, yes: bool):
    page.get_by_role("group", name=legend).get_by_label("Yes" if yes else "No", exact=True).check()


# --- keyboard only ----------------------------------------------------------------------


def tab_to(page, locator, limit: int = 250) -> None:
    """Press Tab until `locator` has the focus (as a person moving through the page would)."""
    for _ in range(limit):
        if locator.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {locator}")


def type_into(page, locator, text: str) -> None:
    tab_to(page, locator)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def fill_referral_by_keyboard(page, postcode: str) -> None:
    for label, value in PERSON:
        type_into(page, page.get_by_label(label, exact=True), value)
    _date_by_keyboard(page, "Date of birth", DATE_OF_BIRTH)
    for label, value in ADDRESS:
        type_into(page, page.get_by_label(label, exact=True), value)
    type_into(page, page.get_by_label("Postcode", exact=True), postcode)
    type_into(page, page.get_by_label(PHONE[0], exact=True), PHONE[1])
    # radios: Tab reaches the group's first option; arrows move and select
    tab_to(page, page.get_by_label("Phone call"))
    page.keyboard.press("ArrowDown")          # Text message
    tab_to(page, page.get_by_label("They agreed to be referred to the peer support group"))
    page.keyboard.press("Space")
    _yes_no_by_keyboard(page, "Did they agree that we share their details with the London Fire Brigade?", True)
    type_into(page, page.get_by_label(CONSENT_BY[0]), CONSENT_BY[1])
    _date_by_keyboard(page, "When did they agree?", CONSENT_ON)
    type_into(page, page.get_by_label(LIVING_ROOM[0], exact=True), LIVING_ROOM[1])
    for question in FIRE_QUESTIONS:
        _yes_no_by_keyboard(page, question, question in FIRE_YES)
    tab_to(page, page.get_by_label("A Home Fire Safety Visit from the London Fire Brigade"))
    page.keyboard.press("Space")


def _date_by_keyboard(page, legend, parts):
    group = page.get_by_role("group", name=legend)
    for label, value in zip(("Day", "Month", "Year"), parts):
        type_into(page, group.get_by_label(label, exact=True), value)


def _yes_no_by_keyboard(page, legend, yes: bool):
    # nothing chosen yet: Tab lands on "Yes"; Space chooses it, the right arrow chooses "No"
    tab_to(page, page.get_by_role("group", name=legend).get_by_label("Yes", exact=True))
    page.keyboard.press("Space" if yes else "ArrowRight")


def account_with_password(capsys, people, email: str, role: str = "partner", agency: str | None = "mind") -> None:
    """An account whose person has already set their password (the journey tests do that part by hand)."""
    link = create_account(capsys, email, role, agency)
    people.set_password(link.rsplit("/", 1)[1], PASSWORD)


def sign_in(page, portal, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{portal}/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_by_keyboard(page, portal, email: str, password: str = PASSWORD) -> None:
    """Sign in with the keyboard alone; returns on Today (a coordinator's home)."""
    page.goto(f"{portal}/sign-in")
    type_into(page, page.get_by_label("Email address"), email)
    type_into(page, page.get_by_label("Password"), password)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Today").wait_for()


def book_visit_with_mouse(page, when) -> None:
    """On a visit's page: type the date and time of `when` (London) and book it."""
    group = page.get_by_role("group", name="Date of the visit")
    for label, value in zip(("Day", "Month", "Year"), (when.day, when.month, when.year)):
        group.get_by_label(label, exact=True).fill(str(value))
    page.get_by_label("Time of the visit").fill(f"{when:%H:%M}")
    page.get_by_role("button", name="Book visit").click()
    page.get_by_text("The visit is booked.").wait_for()
