"""FlowBlock.clean: engine problems become nested block errors on the block the editor must fix.

The admin tests check the same errors through the forms; these pin the exact error structure
(which ValidationError subclass at each level, and which index or field name it is keyed by).
"""

import copy
import uuid

import pytest
from wagtail.blocks import (
    ListBlockValidationError,
    StreamBlockValidationError,
    StructBlockValidationError,
)

from wagtail_dynchat.blocks import FlowBlock
from wagtail_dynchat.models import Dialogue
from wagtail_dynchat.snippets.blueprints import (
    BLUEPRINTS,
    branch,
    capture,
    jump,
    message,
    question,
    with_block_ids,
)


def document(title="Price list", *, url="", document_id=None):
    return {
        "type": "document",
        "value": {"text": "", "title": title, "document": document_id, "url": url},
    }


# The block as the model field configures it (``blank=True`` makes the flow itself optional).
FLOW = Dialogue._meta.get_field("flow").stream_block


def stream(flow):
    """The StreamValue the admin form would hand to the block (with block ids, like the JS)."""
    return FLOW.to_python(with_block_ids(copy.deepcopy(flow)))


def publish_errors(flow):
    with pytest.raises(StreamBlockValidationError) as caught:
        FLOW.clean(stream(flow))
    return caught.value


def draft_errors(flow):
    with pytest.raises(StreamBlockValidationError) as caught:
        FLOW.clean_deferred(stream(flow))
    return caught.value


def messages(error):
    return error.as_json_data()


# A valid opening that leads to "a" and "b", so that later branches are reachable.
OPENING = branch(
    "start",
    "Opening",
    message("<p>Hi!</p>"),
    question("<p>Where to?</p>", [("A", "a", "a"), ("B", "b", "b")]),
)


def test_a_sound_flow_cleans_on_publish_and_on_draft():
    assert isinstance(FLOW, FlowBlock)
    flow = [OPENING, branch("a", "", message("<p>A</p>")), branch("b", "", message("<p>B</p>"))]
    for clean in (FLOW.clean, FLOW.clean_deferred):
        cleaned = clean(stream(flow))
        assert [child.value["key"] for child in cleaned] == ["start", "a", "b"]


def test_dangling_choice_target_is_keyed_by_branch_card_and_choice_index():
    flow = [
        OPENING,
        branch("a", "", message("<p>A</p>")),
        branch(
            "b",
            "",
            message("<p>B</p>"),
            question("<p>More?</p>", [("Yes", "yes", "a"), ("Elsewhere", "x", "nowhere")]),
        ),
    ]
    error = publish_errors(flow)

    # Flow (StreamBlock) → branch 2 (StructBlock) → "cards" (StreamBlock) → card 1 (StructBlock)
    # → "choices" (ListBlock) → choice 1 (StructBlock) → "target".
    assert list(error.block_errors) == [2]
    branch_error = error.block_errors[2]
    assert isinstance(branch_error, StructBlockValidationError)
    assert list(branch_error.block_errors) == ["cards"]
    cards_error = branch_error.block_errors["cards"]
    assert isinstance(cards_error, StreamBlockValidationError)
    assert list(cards_error.block_errors) == [1]
    card_error = cards_error.block_errors[1]
    assert isinstance(card_error, StructBlockValidationError)
    assert list(card_error.block_errors) == ["choices"]
    choices_error = card_error.block_errors["choices"]
    assert isinstance(choices_error, ListBlockValidationError)
    assert list(choices_error.block_errors) == [1]
    choice_error = choices_error.block_errors[1]
    assert isinstance(choice_error, StructBlockValidationError)
    assert choice_error.block_errors["target"].messages == ["No branch has the key “nowhere”."]
    assert not error.non_block_errors


def test_dangling_jump_target_is_on_the_jump_cards_target():
    flow = [branch("start", "", message("<p>Hi</p>"), jump("nowhere"))]
    assert messages(publish_errors(flow)) == {
        "blockErrors": {
            0: {
                "blockErrors": {
                    "cards": {
                        "blockErrors": {
                            1: {
                                "blockErrors": {
                                    "target": {"messages": ["No branch has the key “nowhere”."]}
                                }
                            }
                        }
                    }
                }
            }
        }
    }


def test_duplicate_keys_are_on_the_second_branchs_key_even_in_drafts():
    flow = [OPENING, branch("a", "", message("<p>A</p>")), branch("a", "", message("<p>A2</p>"))]
    expected = {
        "blockErrors": {
            2: {
                "blockErrors": {
                    "key": {
                        "messages": [
                            "Another branch already uses the key “a”. Branch keys must be unique."
                        ]
                    }
                }
            }
        }
    }
    assert messages(draft_errors(flow)) == expected
    # On publish the dangling "b" shows as well.
    published = messages(publish_errors(flow))
    assert published["blockErrors"][2] == expected["blockErrors"][2]
    assert published["blockErrors"][0]["blockErrors"]["cards"]["blockErrors"][1] == {
        "blockErrors": {
            "choices": {
                "blockErrors": {
                    1: {"blockErrors": {"target": {"messages": ["No branch has the key “b”."]}}}
                }
            }
        }
    }


def test_unreachable_branch_is_on_its_key():
    flow = [
        OPENING,
        branch("a", "", message("<p>A</p>")),
        branch("b", "", message("<p>B</p>")),
        branch("lost", "", message("<p>Nobody comes here</p>")),
    ]
    assert messages(publish_errors(flow)) == {
        "blockErrors": {
            3: {
                "blockErrors": {
                    "key": {
                        "messages": [
                            "No choice or jump leads to this branch, so visitors never see it."
                        ]
                    }
                }
            }
        }
    }


def test_loop_of_jumps_without_input_is_on_each_jump():
    flow = [
        branch("start", "", question("<p>Go?</p>", [("Go", "go", "a")])),
        branch("a", "", message("<p>A</p>"), jump("b")),
        branch("b", "", message("<p>B</p>"), jump("a")),
    ]
    error = messages(publish_errors(flow))
    assert sorted(error["blockErrors"]) == [1, 2]
    for branch_index in (1, 2):
        card_errors = error["blockErrors"][branch_index]["blockErrors"]["cards"]["blockErrors"]
        assert list(card_errors) == [1]
        [text] = card_errors[1]["blockErrors"]["target"]["messages"]
        assert text.startswith("This jump sends visitors round in a circle")


def test_loop_through_an_input_card_is_fine():
    flow = [
        branch("start", "", question("<p>Go?</p>", [("Go", "go", "a")])),
        branch("a", "", capture("text", "<p>Anything?</p>", ""), jump("b")),
        branch("b", "", message("<p>B</p>"), jump("a")),
    ]
    FLOW.clean(stream(flow))


def test_poke_on_a_card_other_than_the_first_is_on_its_poke_field():
    flow = [
        branch(
            "start",
            "",
            message("<p>Hi</p>"),
            question("<p>Hey?</p>", [("Yes", "yes", "")], poke=True),
        )
    ]
    assert messages(publish_errors(flow)) == {
        "blockErrors": {
            0: {
                "blockErrors": {
                    "cards": {
                        "blockErrors": {
                            1: {
                                "blockErrors": {
                                    "poke": {
                                        "messages": [
                                            "Only a question that opens the first branch "
                                            "can poke visitors."
                                        ]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }


def test_card_after_a_jump_gets_a_message_on_the_card_itself():
    flow = [
        OPENING,
        branch("a", "", jump("b"), message("<p>Never</p>")),
        branch("b", "", message("<p>B</p>")),
    ]
    error = publish_errors(flow)
    card_error = error.block_errors[1].block_errors["cards"].block_errors[1]
    assert isinstance(card_error, StructBlockValidationError)
    assert card_error.block_errors == {}
    assert [e.message for e in card_error.non_block_errors.as_data()] == [
        "This card follows a jump, so it is never shown."
    ]


def test_document_card_needs_a_document_or_a_url_on_publish_only():
    flow = [branch("start", "", document())]
    expected_card = {
        "blockErrors": {
            "document": {"messages": ["Choose a document or enter a URL (one of the two)."]}
        }
    }
    error = messages(publish_errors(flow))
    assert error["blockErrors"][0]["blockErrors"]["cards"]["blockErrors"][0] == expected_card
    FLOW.clean_deferred(stream(flow))
    FLOW.clean(stream([branch("start", "", document(url="https://example.com/a.pdf"))]))


def test_an_empty_flow_is_a_flow_level_error_on_publish_only():
    error = publish_errors([])
    assert error.block_errors == {}
    assert messages(error) == {"messages": ["Add a first branch: every conversation starts there."]}
    assert len(FLOW.clean_deferred(stream([]))) == 0


def test_drafts_may_be_incomplete():
    flow = [
        branch("", "", question("", [("", "", "nowhere")])),
        branch("later", "", jump("elsewhere")),
        {"type": "branch", "value": {"key": "empty", "name": "", "cards": []}},
    ]
    cleaned = FLOW.clean_deferred(stream(flow))
    assert len(cleaned) == 3
    with pytest.raises(StreamBlockValidationError):
        FLOW.clean(stream(flow))


def test_field_errors_and_flow_problems_show_together():
    # The second branch lacks its required key (a block error) while the first card's answer
    # points nowhere (a flow problem): the editor sees both at once, each on its block.
    flow = [
        branch("start", "", question("<p>Q</p>", [("A", "a", "nowhere"), ("B", "b", "")])),
        branch("", "", message("<p>No key</p>")),
    ]
    error = messages(publish_errors(flow))
    assert error["blockErrors"][1] == {
        "blockErrors": {"key": {"messages": ["This field is required."]}}
    }
    card = error["blockErrors"][0]["blockErrors"]["cards"]["blockErrors"][0]
    assert card["blockErrors"]["choices"]["blockErrors"][0] == {
        "blockErrors": {"target": {"messages": ["No branch has the key “nowhere”."]}}
    }


@pytest.mark.parametrize("slug", sorted(BLUEPRINTS))
def test_blueprints_are_publishable_flows(slug):
    cleaned = FLOW.clean(stream(BLUEPRINTS[slug].flow))
    assert len(cleaned) == len(BLUEPRINTS[slug].flow)


@pytest.mark.parametrize("slug", sorted(BLUEPRINTS))
def test_blueprint_card_ids_are_block_ids_and_stable(slug, db):
    dialogue = BLUEPRINTS[slug].apply(Dialogue())
    compiled = dialogue.compile_flow()
    ids = [card["id"] for branch_ in compiled["branches"] for card in branch_["cards"]]
    assert len(ids) == len(set(ids))
    for card_id in ids:
        uuid.UUID(card_id)
    assert dialogue.compile_flow() == compiled

    # The database row, the revision and the published version all compile to the same ids.
    dialogue.save()
    revision = dialogue.save_revision()
    revision.publish()
    assert Dialogue.objects.get(pk=dialogue.pk).compile_flow() == compiled
    assert revision.as_object().compile_flow() == compiled

    # A second dialogue from the same blueprint gets ids of its own.
    other = BLUEPRINTS[slug].apply(Dialogue()).compile_flow()
    other_ids = {card["id"] for branch_ in other["branches"] for card in branch_["cards"]}
    assert not other_ids & set(ids)


def test_applying_a_blueprint_leaves_the_blueprint_untouched():
    blueprint = BLUEPRINTS["book-a-demo"]
    before = copy.deepcopy(blueprint.flow)
    blueprint.apply(Dialogue())
    assert blueprint.flow == before
    assert "id" not in blueprint.flow[0]
