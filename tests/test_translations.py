"""The shipped gettext catalogues: complete for visitors, current, and safe to format.

The catalogues live in wagtail_dynchat/locale and are regenerated and compiled by `make messages`.
"""

import ast
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

from wagtail_dynchat.engine.inputs import Accepted, Rejected, check_capture, default_label
from wagtail_dynchat.widget_strings import STRINGS, widget_strings

LOCALE = Path(__file__).resolve().parent.parent / "wagtail_dynchat" / "locale"
TRANSLATED = ("de", "fr", "es")
# English is the source language: its catalogue only declares the language.
LANGUAGES = ("en", *TRANSLATED)

# Widget texts that are rightly the same word as in English.
SAME_AS_ENGLISH = {
    "de": {"region"},  # "Chat"
    "fr": {"region"},
    "es": {"region"},
}

# Sources whose messages a visitor can read: the widget's texts, what capture validation says, the
# conversation's own lines and the visitor API's errors. Each must be translated (and not fuzzy).
VISITOR_SOURCES = (
    "widget_strings.py",
    "engine/inputs.py",
    "engine/interpreter.py",
    "conversations.py",
    "visitors.py",
    "api/",
)


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    locations: list[str] = field(default_factory=list)

    @property
    def fuzzy(self):
        return "fuzzy" in self.flags

    @property
    def translations(self):
        if self.msgid_plural is not None:
            return [self.msgstr_plural[index] for index in sorted(self.msgstr_plural)]
        return [self.msgstr]

    @property
    def translated(self):
        return all(self.translations)

    def __str__(self):
        context = f"[{self.msgctxt}] " if self.msgctxt else ""
        return f"{context}{self.msgid!r} ({', '.join(self.locations)})"


def parse_po(path):
    """The entries of a .po file (header included as msgid "", obsolete #~ entries left out)."""
    entries = []
    entry, target, in_msgstr = Entry(), None, False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        keyword = line.split(" ", 1)[0]
        # A comment, msgctxt or msgid after a msgstr starts the next entry.
        if in_msgstr and (line.startswith("#") or keyword in ("msgctxt", "msgid")):
            entries.append(entry)
            entry, target, in_msgstr = Entry(), None, False
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#:"):
            entry.locations.extend(line[2:].split())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, f"{path}:{number}: a string without a keyword"
            _append(entry, target, ast.literal_eval(line))
        else:
            value = ast.literal_eval(line[len(keyword) :].strip())
            if keyword.startswith("msgstr["):
                target = int(keyword[len("msgstr[") : -1])
            else:
                assert keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"), (
                    f"{path}:{number}: unexpected {keyword!r}"
                )
                target = keyword
            in_msgstr = keyword.startswith("msgstr")
            _set(entry, target, value)
    if in_msgstr:
        entries.append(entry)
    return entries


def _set(entry, target, text):
    if isinstance(target, int):
        entry.msgstr_plural[target] = text
    else:
        setattr(entry, target, text)


def _append(entry, target, text):
    if isinstance(target, int):
        entry.msgstr_plural[target] += text
    else:
        setattr(entry, target, getattr(entry, target) + text)


def po_path(language):
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def messages(language):
    """The entries of a language's catalogue, without the header."""
    return [entry for entry in parse_po(po_path(language)) if entry.msgid]


def header(language):
    (entry,) = [entry for entry in parse_po(po_path(language)) if not entry.msgid]
    return dict(line.split(": ", 1) for line in entry.msgstr.splitlines() if ": " in line)


def expected_catalogue(language):
    """What a .mo compiled from the .po holds, in the shape of Python's GNUTranslations."""
    catalogue = {}
    for entry in messages(language):
        if entry.fuzzy or not entry.translated:
            continue
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt is not None else entry.msgid
        if entry.msgid_plural is not None:
            for index, text in entry.msgstr_plural.items():
                catalogue[(key, index)] = text
        else:
            catalogue[key] = entry.msgstr
    return catalogue


def compiled_catalogue(path):
    with path.open("rb") as mo:
        # Python's own .mo reader; the header (msgid "") is compared separately.
        catalogue = dict(gettext.GNUTranslations(mo)._catalog)
    catalogue.pop("", None)
    return catalogue


# --- the widget and the engine, as a visitor reads them -------------------------------------


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_widget_string_is_translated(language):
    with translation.override("en"):
        english = widget_strings()
    with translation.override(language):
        translated = widget_strings()
    assert translated.keys() == STRINGS.keys()
    untranslated = {
        key: text
        for key, text in translated.items()
        if key not in SAME_AS_ENGLISH[language] and text == english[key]
    }
    assert not untranslated, f"{language}: widget strings still in English: {untranslated}"
    assert all(text.strip() for text in translated.values())
    # The launcher's name is followed by the dialogue's title: keep the trailing space.
    assert translated["open"].endswith(" ")


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize(
    ("card", "raw"),
    [
        ({"input": "email"}, "not an address"),
        ({"input": "phone"}, "call me"),
        ({"input": "date"}, "tomorrow"),
        ({"input": "number"}, "many"),
        ({"input": "number", "min": 1, "max": 10}, "50"),
        ({"input": "number", "min": 18}, "3"),
        ({"input": "number", "max": 5}, "6"),
        ({"input": "text", "min": 20}, "short"),
        ({"input": "text", "max": 5}, "far too long"),
        ({"input": "text", "required": True}, ""),
        ({"input": "picklist", "options": [{"label": "A", "value": "a"}]}, "b"),
    ],
)
def test_capture_validation_messages_are_translated(language, card, raw):
    with translation.override("en"):
        english = check_capture(card, raw)
    with translation.override(language):
        translated = check_capture(card, raw)
    assert isinstance(english, Rejected)
    assert isinstance(translated, Rejected)
    assert translated.reason == english.reason
    assert translated.message != english.message, f"{language}: {english.message!r}"
    if english.reason != "invalid":  # whose examples ("42 or 3.5") are written the local way
        # The limits put into the message survive translation.
        assert re.findall(r"\d+", translated.message) == re.findall(r"\d+", english.message)


@pytest.mark.parametrize("language", TRANSLATED)
def test_blocked_domain_and_skipped_texts_are_translated(language):
    with translation.override("en"):
        english_blocked = check_capture(
            {"input": "email"}, "ada@example.com", blocked_email_domains=["example.com"]
        )
        english_skipped = check_capture({"input": "text"}, "")
        english_labels = [default_label(kind) for kind in ("email", "phone", "text")]
    with translation.override(language):
        blocked = check_capture(
            {"input": "email"}, "ada@example.com", blocked_email_domains=["example.com"]
        )
        skipped = check_capture({"input": "text"}, "")
        labels = [default_label(kind) for kind in ("email", "phone", "text")]
    assert blocked.reason == english_blocked.reason == "blocked_domain"
    assert blocked.message != english_blocked.message
    assert isinstance(skipped, Accepted)
    assert skipped.value is None
    assert skipped.text != english_skipped.text == "Skipped"
    assert all(a != b for a, b in zip(labels, english_labels, strict=True))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_visitor_facing_message_is_translated(language):
    missing = [
        str(entry)
        for entry in messages(language)
        if any(
            location.startswith(source)
            for location in entry.locations
            for source in VISITOR_SOURCES
        )
        and (entry.fuzzy or not entry.translated)
    ]
    assert not missing, f"{language}: untranslated or fuzzy visitor texts: {missing}"


# --- the catalogues as files --------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_declares_its_language(language):
    meta = header(language)
    assert meta["Language"] == language
    assert meta["Content-Type"] == "text/plain; charset=UTF-8"
    assert meta["Plural-Forms"].startswith("nplurals=")
    assert (LOCALE / language / "LC_MESSAGES" / "django.mo").is_file()


def test_catalogues_hold_the_same_messages():
    def keys(language):
        return {(entry.msgctxt, entry.msgid, entry.msgid_plural) for entry in messages(language)}

    english = keys("en")
    assert english
    for language in TRANSLATED:
        assert keys(language) == english, f"re-run `make messages` ({language} differs from en)"


def test_english_is_the_source_language():
    assert not [str(entry) for entry in messages("en") if any(entry.translations)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_is_current(language):
    compiled = compiled_catalogue(LOCALE / language / "LC_MESSAGES" / "django.mo")
    expected = expected_catalogue(language)
    stale = {
        key: (compiled.get(key), text)
        for key, text in expected.items()
        if compiled.get(key) != text
    }
    extra = sorted(str(key) for key in compiled.keys() - expected.keys())
    assert not stale and not extra, (
        f"{language}: django.mo is out of date with django.po (run `make messages`): "
        f"changed {stale}, no longer in the .po {extra}"
    )
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        assert (
            gettext.GNUTranslations(mo).info()["plural-forms"] == header(language)["Plural-Forms"]
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_msgfmt_agrees_with_the_shipped_catalogue(language, tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        print("msgfmt (GNU gettext) is not installed: the check against it is skipped")
        pytest.skip("msgfmt (GNU gettext) is not installed")
    output = tmp_path / "django.mo"
    # --check validates headers and python-format directives, as compilemessages does.
    subprocess.run([msgfmt, "--check", "-o", str(output), str(po_path(language))], check=True)
    assert compiled_catalogue(output) == compiled_catalogue(
        LOCALE / language / "LC_MESSAGES" / "django.mo"
    ), f"{language}: django.mo differs from what msgfmt compiles (run `make messages`)"


# --- every translation is safe to use -------------------------------------------------------

PRINTF = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?"  # %(name)
    r"[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?"  # flags, width, precision
    r"(?P<conversion>[diouxXeEfFgGcrsa%])"
)
BRACE = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")
TEMPLATE_TOKEN = re.compile(r"\{\{.*?\}\}")


def printf_placeholders(text):
    return {
        (match["name"], match["conversion"])
        for match in PRINTF.finditer(text)
        if match["conversion"] != "%"
    }


def sample_value(conversion):
    return 7 if conversion in "diouxXc" else 7.5 if conversion in "eEfFgG" else "x"


def sample_arguments(text):
    """Values to %-format ``text`` with, shaped as its own placeholders ask."""
    found = [(match["name"], match["conversion"]) for match in PRINTF.finditer(text)]
    found = [(name, conversion) for name, conversion in found if conversion != "%"]
    if found and all(name is None for name, _ in found):
        return tuple(sample_value(conversion) for _, conversion in found)
    return {name: sample_value(conversion) for name, conversion in found}


def translated_entries():
    for language in TRANSLATED:
        for entry in messages(language):
            if entry.translated and not entry.fuzzy:
                yield language, entry


def test_translations_keep_the_placeholders():
    problems = []
    for language, entry in translated_entries():
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        wanted = set().union(*(printf_placeholders(text) for text in sources))
        braces = set().union(*(set(BRACE.findall(text)) for text in sources))
        tokens = set().union(*(set(TEMPLATE_TOKEN.findall(text)) for text in sources))
        for text in entry.translations:
            where = f"{language}: {entry} -> {text!r}"
            if "python-format" in entry.flags:
                if printf_placeholders(text) != wanted:
                    problems.append(f"{where}: placeholders differ")
                    continue
                try:
                    text % sample_arguments(text)
                except (TypeError, ValueError, KeyError) as error:
                    problems.append(f"{where}: formatting fails ({error})")
            elif printf_placeholders(text) - printf_placeholders(entry.msgid):
                problems.append(f"{where}: adds a %-placeholder the source does not have")
            if set(BRACE.findall(text)) != braces:
                problems.append(f"{where}: {{}}-placeholders differ")
            if set(TEMPLATE_TOKEN.findall(text)) != tokens:
                problems.append(f"{where}: {{{{ tokens }}}} differ")
            # Texts that are joined to others keep their leading and trailing spaces.
            if (text[:1].isspace(), text[-1:].isspace()) != (
                entry.msgid[:1].isspace(),
                entry.msgid[-1:].isspace(),
            ):
                problems.append(f"{where}: leading or trailing space differs")
    assert not problems, "\n".join(problems)


SAMPLE_PO = r"""# A comment.
msgid ""
msgstr ""
"Language: xx\n"
"Content-Type: text/plain; charset=UTF-8\n"

#: a.py b.py
#, python-format
msgid ""
"Two "
"lines %(n)s"
msgstr "Zwei \"Zeilen\"\t%(n)s \\ ü"

#: a.py
msgctxt "landmark"
msgid "Chat"
msgstr "Plauderei"

#, fuzzy
#| msgid "Old"
msgid "New"
msgstr "Alt"

msgid "one"
msgid_plural "many"
msgstr[0] "eins"
msgstr[1] ""
"viele"

#~ msgid "gone"
#~ msgstr "weg"
"""


def test_the_po_reader(tmp_path):
    path = tmp_path / "django.po"
    path.write_text(SAMPLE_PO, encoding="utf-8")
    head, lines, chat, fuzzy, plural = parse_po(path)
    assert head.msgid == "" and head.msgstr.startswith("Language: xx\n")
    assert lines.msgid == "Two lines %(n)s"
    assert lines.msgstr == 'Zwei "Zeilen"\t%(n)s \\ ü'
    assert lines.flags == {"python-format"} and lines.locations == ["a.py", "b.py"]
    assert (chat.msgctxt, chat.msgid, chat.msgstr) == ("landmark", "Chat", "Plauderei")
    assert fuzzy.fuzzy and fuzzy.msgid == "New"
    assert plural.msgid_plural == "many" and plural.translations == ["eins", "viele"]
    msgfmt = shutil.which("msgfmt")
    if msgfmt is not None:
        # And it reads them as GNU gettext does (fuzzy entries are not compiled).
        subprocess.run([msgfmt, "-o", str(tmp_path / "django.mo"), str(path)], check=True)
        expected = {
            "Two lines %(n)s": 'Zwei "Zeilen"\t%(n)s \\ ü',
            "landmark\x04Chat": "Plauderei",
            ("one", 0): "eins",
            ("one", 1): "viele",
        }
        assert compiled_catalogue(tmp_path / "django.mo") == expected
