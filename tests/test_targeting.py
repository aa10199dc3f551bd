"""Which pages a dialogue appears on: page-tree targets, exclusions, priority and cache upkeep."""

import pytest
from wagtail.models import Page, Site

from tests.conftest import SIMPLE_FLOW, make_dialogue
from wagtail_dynchat import targeting


def candidates(page, url=""):
    """Dialogue ids for a page view, as bootstrap computes them."""
    return targeting.candidates(targeting.page_info(Page.objects.get(pk=page.pk)), url)


def test_page_only_target_matches_that_page_alone(pages):
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["blog"], "page")])
    assert candidates(pages["blog"]) == [dialogue.pk]
    assert candidates(pages["posts"][0]) == []
    assert candidates(pages["home"]) == []


def test_descendants_target_matches_the_section(pages):
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["blog"], "descendants")])
    assert candidates(pages["blog"]) == [dialogue.pk]
    assert all(candidates(post) == [dialogue.pk] for post in pages["posts"])
    assert candidates(pages["pricing"]) == []


def test_exclusion_wins_over_inclusion(pages):
    excluded_post = pages["posts"][1]
    dialogue = make_dialogue(
        SIMPLE_FLOW,
        targets=[(pages["home"], "descendants"), (excluded_post, "page", True)],
    )
    assert candidates(pages["pricing"]) == [dialogue.pk]
    assert candidates(excluded_post) == []
    assert candidates(pages["posts"][0]) == [dialogue.pk]


def test_excluding_a_section_excludes_its_descendants(pages):
    make_dialogue(
        SIMPLE_FLOW,
        targets=[(pages["home"], "descendants"), (pages["blog"], "descendants", True)],
    )
    assert candidates(pages["blog"]) == []
    assert candidates(pages["posts"][2]) == []


def test_candidates_are_ordered_by_priority(pages):
    low = make_dialogue(
        SIMPLE_FLOW, name="Low", priority=10, targets=[(pages["home"], "descendants")]
    )
    high = make_dialogue(
        SIMPLE_FLOW, name="High", priority=90, targets=[(pages["pricing"], "page")]
    )
    assert candidates(pages["pricing"]) == [high.pk, low.pk]


def test_drafts_never_target_anything(pages):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")], publish=False)
    assert candidates(pages["pricing"]) == []


def test_publishing_and_unpublishing_refresh_the_cached_index(pages):
    assert candidates(pages["pricing"]) == []  # cached as "nothing"
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    assert candidates(pages["pricing"]) == [dialogue.pk]
    dialogue.unpublish()
    assert candidates(pages["pricing"]) == []


def test_moving_a_page_refreshes_the_cached_index(pages):
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["blog"], "descendants")])
    post = pages["posts"][0]
    assert candidates(post) == [dialogue.pk]
    Page.objects.get(pk=post.pk).move(pages["pricing"], pos="last-child")
    assert candidates(post) == []


def test_deleting_the_dialogue_refreshes_the_cached_index(pages):
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    assert candidates(pages["pricing"]) == [dialogue.pk]
    dialogue.delete()
    assert candidates(pages["pricing"]) == []


def test_a_dialogue_on_one_site_never_appears_on_another(pages):
    from example_site.home.models import HomePage, StandardPage

    root = Page.get_first_root_node()
    other_home = root.add_child(instance=HomePage(title="Other site", slug="other-site"))
    Site.objects.create(hostname="other.example", root_page=other_home)
    other_pricing = other_home.add_child(instance=StandardPage(title="Pricing", slug="pricing"))
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["home"], "descendants")])
    assert candidates(pages["pricing"]) == [dialogue.pk]
    assert candidates(other_home) == []
    assert candidates(other_pricing) == []


def test_warm_cache_answers_without_queries(pages, django_assert_num_queries):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    page = Page.objects.get(pk=pages["pricing"].pk)
    info = targeting.page_info(page)
    targeting.candidates(info, "http://testserver/pricing/")
    with django_assert_num_queries(0):
        assert targeting.page_info(page) == info
        assert targeting.candidates(info, "http://testserver/pricing/")


@pytest.mark.parametrize("page_id", [0, 10**12])
def test_unknown_pages_have_no_candidates(db, page_id):
    assert targeting.page_info_for_id(page_id) is None
