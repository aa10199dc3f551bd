"""System checks of the MARKETO setting."""

import pytest

from wagtail_dynchat.checks import check_marketo

GOOD = {"BASE_URL": "https://123-ABC-456.mktorest.com", "CLIENT_ID": "id", "CLIENT_SECRET": "s"}


def ids(settings, **marketo):
    settings.WAGTAIL_DYNCHAT = {"MARKETO": marketo}
    return [message.id for message in check_marketo(None)]


def test_no_marketo_is_fine(settings):
    assert ids(settings) == []


def test_a_complete_setting_passes(settings):
    assert ids(settings, **GOOD) == []


@pytest.mark.parametrize(
    "base",
    ["http://123-ABC-456.mktorest.com", "https://123-ABC-456.mktorest.com/rest", "mktorest.com"],
)
def test_a_wrong_base_address_is_an_error(settings, base):
    assert ids(settings, **{**GOOD, "BASE_URL": base}) == ["wagtail_dynchat.E020"]


def test_missing_credentials_are_named(settings):
    settings.WAGTAIL_DYNCHAT = {"MARKETO": {"BASE_URL": GOOD["BASE_URL"], "CLIENT_ID": "id"}}
    [message] = check_marketo(None)
    assert message.id == "wagtail_dynchat.E021" and "CLIENT_SECRET" in message.msg


def test_limits_must_be_positive_numbers_and_batches_at_most_300(settings):
    assert ids(settings, **GOOD, RATE_CALLS=0) == ["wagtail_dynchat.E022"]
    assert ids(settings, **GOOD, BATCH_SIZE=500) == ["wagtail_dynchat.E023"]


def test_a_budget_above_marketos_limit_is_warned_about(settings):
    assert ids(settings, **GOOD, RATE_CALLS=150) == ["wagtail_dynchat.W020"]
