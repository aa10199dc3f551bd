"""A visitor's conversation through the public API, as the widget drives it."""

from wagtail_dynchat.models import Conversation, ConversationEvent, Person


def test_full_conversation_with_invalid_email_retry(chat, simple_dialogue, pages):
    boot = chat.bootstrap(pages["pricing"])
    assert boot.status_code == 200
    assert boot.json()["dialogue"]["id"] == simple_dialogue.pk
    assert boot.json()["conversation"] is None

    started = chat.start(simple_dialogue, pages["pricing"])
    assert started.status_code == 201
    conversation = started.json()["conversation"]
    assert [item["kind"] for item in conversation["items"]] == ["message", "question"]
    assert conversation["items"][0]["html"] == "<p>Hello there!</p>"

    answered = chat.answer(conversation, 0)
    assert answered.status_code == 200
    conversation = answered.json()["conversation"]
    assert conversation["awaiting"]["kind"] == "capture"

    retry = chat.answer(conversation, "not-an-email")
    assert retry.status_code == 200
    assert [item["kind"] for item in retry.json()["items"]] == ["retry"]
    assert retry.json()["conversation"]["step"] == conversation["step"]

    done = chat.answer(conversation, "Ada@Example.COM")
    assert done.status_code == 200
    conversation = done.json()["conversation"]
    assert conversation["status"] == "completed"
    assert conversation["items"][-1]["kind"] == "end"

    stored = Conversation.objects.get(public_id=conversation["id"])
    assert stored.person.email == "ada@example.com"
    assert stored.score == 2
    kinds = list(stored.events.values_list("kind", flat=True))
    assert kinds.count(ConversationEvent.TRIGGERED) == 1
    assert kinds.count(ConversationEvent.ENGAGED) == 1
    assert ConversationEvent.REJECTED in kinds
    assert ConversationEvent.GOAL in kinds
    assert kinds[-1] == ConversationEvent.COMPLETED
    assert Person.objects.count() == 1


def test_reload_resumes_the_conversation(chat, simple_dialogue, pages):
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]

    boot = chat.bootstrap(pages["pricing"]).json()
    assert boot["conversation"]["id"] == conversation["id"]
    assert boot["conversation"]["items"] == conversation["items"]
    # Engaged conversations follow the visitor to pages they don't target.
    elsewhere = chat.bootstrap(pages["contact"]).json()
    assert elsewhere["conversation"]["id"] == conversation["id"]
