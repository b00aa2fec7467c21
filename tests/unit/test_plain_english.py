"""Every message in plain English: no jargon, never "hoarder", short sentences, an easy read.

The people we write to may find reading hard or be anxious about their home, so person messages
aim at a reading age of about 9 (Flesch-Kincaid grade ~4; we fail above 6). Professionals' messages
are held to short sentences and no jargon too. Scores come from textstat over the rendered text
of every plan on every channel, with addresses, links and numbers taken out and each line (a list
item, a heading) read as a sentence of its own.
"""
import re
from pathlib import Path

import pytest
import textstat

from services.notifications import messages
from services.notifications.messages import load_group, render
from tests.unit.test_templates import every_plan

TEMPLATES = Path(messages.__file__).parent / "templates"

# words that never go in any message: labels the person would feel judged by, and jargon
BANNED = [r"hoarder", r"hoarding", r"\bHFSV\b", r"\bCIR\b", r"triage", r"referral pathway"]
# and what only professionals should read
BANNED_FOR_THE_PERSON = [r"\bLFB\b", r"service user", r"signpost", r"safeguarding", r"\breferral\b"]

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_NOT_WORDS = re.compile(r"https?://\S+|\S+@\S+|\+?\d[\d ]{6,}\d")


@pytest.fixture(scope="module")
def group():
    return load_group()


def template_words(source: str) -> str:
    """The words a template writes itself (not the names of the variables it fills in)."""
    return _JINJA.sub(" ", source)


def prose(text: str) -> str:
    """The text as read: links, emails and numbers as one word, every line a sentence."""
    lines = []
    for line in _NOT_WORDS.sub("it", text).splitlines():
        line = line.strip().removeprefix("- ").strip()
        if line:
            lines.append(line if line[-1] in ".!?:" else line + ".")
    return "\n".join(lines)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?:])\s+", prose(text)) if s]


@pytest.mark.parametrize("path", sorted(TEMPLATES.iterdir()), ids=lambda p: p.name)
def test_no_template_uses_a_banned_word(path):
    words = template_words(path.read_text(encoding="utf-8"))
    for pattern in BANNED:
        assert not re.search(pattern, words, re.IGNORECASE), f"{path.name}: {pattern}"
    if path.name.startswith(("person_", "_")):
        for pattern in BANNED_FOR_THE_PERSON:
            assert not re.search(pattern, words, re.IGNORECASE), f"{path.name}: {pattern}"


def test_no_message_uses_a_banned_word(group):
    """The group's own details (other support, agencies) are in the messages too."""
    for message in every_plan(group):
        rendered = render(message, group)
        text = "\n".join([rendered.subject, rendered.text])
        banned = BANNED + (BANNED_FOR_THE_PERSON if message.audience == "person" else [])
        for pattern in banned:
            assert not re.search(pattern, text, re.IGNORECASE), f"{message.template}: {pattern}"


def test_the_banned_word_check_reads_words_not_variable_names():
    assert re.search(BANNED[0], template_words("Help for a Hoarder"), re.IGNORECASE)
    assert re.search(BANNED[3], template_words("Your CIR is {{ cir_max }}"), re.IGNORECASE)
    assert not re.search(BANNED[3], template_words("{{ cir_max }} and {% if hfsv_visit %}"), re.IGNORECASE)


def test_sentences_are_short(group):
    for message in every_plan(group):
        text = render(message, group).text
        assert textstat.words_per_sentence(prose(text)) < 20, message.template
        longest = max(sentences(text), key=lambda s: len(s.split()))
        assert len(longest.split()) <= 25, f"{message.template} ({message.channel}): {longest}"


def test_person_messages_are_an_easy_read(group):
    for message in every_plan(group):
        if message.audience == "person":
            grade = textstat.flesch_kincaid_grade(prose(render(message, group).text))
            assert grade <= 6, f"{message.template} ({message.channel}): grade {grade}"


def test_everyone_elses_messages_are_plain_too(group):
    for message in every_plan(group):
        grade = textstat.flesch_kincaid_grade(prose(render(message, group).text))
        assert grade <= 8, f"{message.template} ({message.channel}): grade {grade}"


def test_the_readability_check_can_fail():
    hard = ("Notwithstanding the aforementioned considerations, the multidisciplinary safeguarding "
            "arrangements necessitate comprehensive interagency documentation prior to authorisation.")
    assert textstat.flesch_kincaid_grade(prose(hard)) > 8
    assert textstat.words_per_sentence(prose(hard)) >= 15
