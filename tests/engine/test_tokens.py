import pytest

from wagtail_dynchat.engine import html_to_text, render_tokens


@pytest.mark.parametrize(
    "html",
    [
        "<p>Hi {{ person.first_name }}!</p>",
        "<p>Hi {{person.first_name}}!</p>",
        "<p>Hi {{   person.first_name\t}}!</p>",
    ],
)
def test_person_value_with_any_spacing(html):
    assert render_tokens(html, {"first_name": "Ann"}) == "<p>Hi Ann!</p>"


@pytest.mark.parametrize(
    "token",
    [
        '{{ person.first_name|"there" }}',
        '{{person.first_name|"there"}}',
        '{{ person.first_name | "there" }}',
        "{{ person.first_name|&quot;there&quot; }}",
        "{{ person.first_name|&#34;there&#34; }}",
        "{{ person.first_name|&#x22;there&#x22; }}",
    ],
)
def test_default_in_any_quote_form(token):
    html = f"<p>Hi {token}!</p>"
    assert render_tokens(html, {}) == "<p>Hi there!</p>"
    assert render_tokens(html, {"first_name": "Ann"}) == "<p>Hi Ann!</p>"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_or_blank_value_uses_the_default(value):
    html = '<p>Hi {{ person.first_name|"there" }}</p>'
    assert render_tokens(html, {"first_name": value}) == "<p>Hi there</p>"


def test_missing_value_without_default_renders_nothing():
    assert render_tokens("<p>Hi {{ person.first_name }}!</p>", {}) == "<p>Hi !</p>"
    assert render_tokens("<p>Hi {{ person.first_name }}!</p>", None) == "<p>Hi !</p>"


def test_person_value_is_escaped():
    person = {"first_name": '<script>alert("x")</script>&'}
    assert render_tokens("<p>{{ person.first_name }}</p>", person) == (
        "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;</p>"
    )


def test_default_is_escaped_once():
    # The default is HTML source: its entities are decoded, then everything is escaped again.
    html = "<p>{{ person.team|&quot;Tom &amp; Jerry &lt;3&quot; }}</p>"
    assert render_tokens(html, {}) == "<p>Tom &amp; Jerry &lt;3</p>"


def test_values_are_stripped_and_numbers_rendered():
    assert render_tokens("{{ person.n }}|{{ person.name }}", {"n": 42, "name": " Bo "}) == "42|Bo"


def test_company_values_come_from_prefixed_keys():
    person = {"company.name": "Acme", "name": "Ann"}
    assert render_tokens("<p>{{ company.name }}</p>", person) == "<p>Acme</p>"
    assert render_tokens('<p>{{ company.size|"small" }}</p>', person) == "<p>small</p>"


@pytest.mark.parametrize(
    "html",
    [
        "<p>{{ visitor.country }}</p>",
        '<p>{{ page.title|"x" }}</p>',
        "<p>{{ person }}</p>",
        "<p>{{ person.first_name|upper }}</p>",
        "<p>{ person.first_name }</p>",
        "<p>{{ person.first_name|'single quotes' }}</p>",
    ],
)
def test_other_tokens_are_left_untouched(html):
    assert render_tokens(html, {"first_name": "Ann", "country": "FR"}) == html


def test_tokens_inside_tags_are_left_untouched():
    # A visitor-typed value must never become an href (javascript: URLs).
    html = '<p><a href="{{ person.website }}">{{ person.website }}</a></p>'
    person = {"website": "javascript:alert(1)"}
    assert render_tokens(html, person) == (
        '<p><a href="{{ person.website }}">javascript:alert(1)</a></p>'
    )


def test_one_default_never_swallows_the_next_token():
    html = '<p>{{ person.a|"x }} {{ person.b|"y" }}</p>'
    assert render_tokens(html, {"a": "A", "b": "B"}) == '<p>{{ person.a|"x }} B</p>'


def test_several_tokens():
    html = '<p>{{ person.first_name|"there" }} from {{ company.name|"your company" }}</p>'
    assert render_tokens(html, {"first_name": "Ann"}) == "<p>Ann from your company</p>"


@pytest.mark.parametrize("html", [None, "", 3])
def test_non_text_renders_empty(html):
    assert render_tokens(html, {}) == ""


def test_html_to_text():
    assert html_to_text("<p>Your <b>e</b>-mail &amp; name?</p><p>Thanks</p>") == (
        "Your e-mail & name? Thanks"
    )
    assert html_to_text("<ul><li>a</li><li>b</li></ul>") == "a b"
    assert html_to_text(None) == ""
