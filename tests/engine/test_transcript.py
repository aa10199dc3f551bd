"""A transcript as text: lines for people (Marketo's activity), case-folded text for search."""

from wagtail_dynchat.engine.transcript import as_lines, search_text

ITEMS = [
    {"kind": "message", "card": "c1", "html": "<p>Hello <strong>Ada</strong> &amp; team!</p>"},
    {
        "kind": "question",
        "card": "c2",
        "html": "<p>Coffee or tea?</p>",
        "choices": [{"index": 0, "label": "Café crème"}, {"index": 1, "label": "Tea"}],
    },
    {"kind": "answer", "card": "c2", "text": "Café crème"},
    {"kind": "document", "card": "c3", "html": "<p>Our menu</p>", "title": "Menu.pdf"},
    {"kind": "end", "text": "Bye!"},
]


def test_lines_name_who_said_what():
    assert as_lines(ITEMS) == [
        "Bot: Hello Ada & team!",
        "Bot: Coffee or tea?",
        "Visitor: Café crème",
        "Bot: Our menu [Menu.pdf]",
        "Bot: Bye!",
    ]
    assert as_lines(None) == []


def test_search_text_is_what_a_reader_sees_case_folded():
    text = search_text(ITEMS)
    for seen in ("hello ada & team!", "coffee or tea?", "café crème", "tea", "menu.pdf", "bye!"):
        assert seen in text
    # No markup, keys, kinds or card ids.
    for hidden in ("<p>", "strong", "&amp;", "kind", "answer", "c1", "html", "index"):
        assert hidden not in text, hidden
    assert search_text([]) == search_text(None) == ""
