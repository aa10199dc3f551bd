"""Unit tests of the pure conversation engine, and builders for the flows they run.

The builders produce compiled flows exactly as the engine receives them (JSON-safe dicts), with
every key present, so each test only spells out what it is about.
"""


def flow(*branches):
    return {"branches": list(branches)}


def branch(key, *cards, name=""):
    return {"key": key, "name": name or key, "cards": list(cards)}


def message(id, html="<p>Hello</p>"):
    return {"id": id, "type": "message", "html": html}


def choice(label, value="", target=""):
    return {"label": label, "value": value, "target": target}


def question(id, *choices, html="<p>Pick one</p>", field="", poke=False):
    return {
        "id": id,
        "type": "question",
        "html": html,
        "field": field,
        "poke": poke,
        "choices": list(choices),
    }


def capture(
    id,
    input="text",
    *,
    field="",
    html="<p>Tell us</p>",
    placeholder="",
    required=False,
    policy="always",
    retry="",
    options=(),
    min=None,
    max=None,
):
    return {
        "id": id,
        "type": "capture",
        "html": html,
        "input": input,
        "field": field,
        "placeholder": placeholder,
        "required": required,
        "policy": policy,
        "retry": retry,
        "options": list(options),
        "min": min,
        "max": max,
    }


def goal(id, name="Goal", score=None):
    return {"id": id, "type": "goal", "name": name, "score": score}


def document(id, title="Guide", url="https://example.com/guide.pdf", html="<p>Our guide</p>"):
    return {"id": id, "type": "document", "html": html, "title": title, "url": url}


def jump(id, target):
    return {"id": id, "type": "jump", "target": target}


def meeting(
    id, *, html="<p>Pick a time</p>", queue=None, field="", agent_value="name", fallback=""
):
    return {
        "id": id,
        "type": "meeting",
        "html": html,
        "queue": queue,
        "invitation": "",
        "online_meeting": True,
        "field": field,
        "agent_value": agent_value,
        "fallback": fallback,
    }
