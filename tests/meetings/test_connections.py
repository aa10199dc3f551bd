"""Calendar connections: tokens at rest, connecting through the admin against the loopback fakes,
silent refresh, failures (one e-mail per failure), disconnecting, and who sees which page."""

import dataclasses
import datetime
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from wagtail.test.utils import WagtailTestUtils

from tests.fakes import fixtures as fakes
from tests.test_admin_dialogues import sidebar_menu
from wagtail_dynchat.admin.calendars import parse_day
from wagtail_dynchat.conf import dynchat_settings
from wagtail_dynchat.meetings import connections
from wagtail_dynchat.meetings import tokens as token_store
from wagtail_dynchat.meetings.providers import ReauthRequired, Tokens
from wagtail_dynchat.models import Agent, CalendarConnection

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("block_network")]

# The loopback fakes' fixtures, used by name below.
block_network = fakes.block_network
google_fake = fakes.google_fake
microsoft_fake = fakes.microsoft_fake

KEY = Fernet.generate_key().decode()
OLD_KEY = Fernet.generate_key().decode()
MINE = reverse("wagtail_dynchat_calendars:mine")
DISCONNECT = reverse("wagtail_dynchat_calendars:disconnect")
AGENTS = reverse(connections.AGENTS_URL_NAME)
UTC = datetime.UTC


def connect_url(provider):
    return reverse("wagtail_dynchat_calendars:connect", args=[provider])


def callback_url(provider):
    return reverse(f"wagtail_dynchat_calendars:{provider}_callback")


@pytest.fixture(autouse=True)
def calendar_key(settings):
    """A valid key and both providers' OAuth apps (the fakes point the endpoints at loopback)."""
    settings.WAGTAIL_DYNCHAT = {
        **getattr(settings, "WAGTAIL_DYNCHAT", {}),
        "CALENDAR_ENCRYPTION_KEY": KEY,
    }
    yield
    dynchat_settings.reload()


def set_dynchat(settings, **values):
    settings.WAGTAIL_DYNCHAT = {**settings.WAGTAIL_DYNCHAT, **values}


# ---- people ---------------------------------------------------------------------------------


def role(name):
    """The groups of migration 0005 (recreated when a transactional test flushed them)."""
    group, _ = Group.objects.get_or_create(name=name)
    perms = Permission.objects.filter(content_type__app_label="wagtail_dynchat")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    if name == connections.SALES_ADMIN_GROUP:
        group.permissions.add(
            *perms.filter(
                content_type__model__in=("agent", "calendarconnection", "meeting")
            ).exclude(codename="take_meetings")
        )
    else:
        group.permissions.add(perms.get(codename="take_meetings"))
    return group


def person(username, *groups, superuser=False, email=None):
    user_model = get_user_model()
    email = f"{username}@example.com" if email is None else email
    if superuser:
        user = user_model.objects.create_superuser(username, email, "password")
    else:
        user = user_model.objects.create_user(username, email, "password", first_name=username)
    for name in groups:
        user.groups.add(role(name))
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def ada():
    return person("ada", "Calendar agent")


@pytest.fixture
def sales():
    return person("sam", connections.SALES_ADMIN_GROUP)


def bundle(**changes):
    values = {
        "access_token": "ya29.current",
        "refresh_token": "1//refresh",
        "expires_at": datetime.datetime.now(UTC) + datetime.timedelta(hours=1),
        "account": "ada@calendar.example",
    }
    return Tokens(**{**values, **changes})


def connected(user, provider="google", status=CalendarConnection.CONNECTED, **token_changes):
    agent = connections.agent_for(user, create=True)
    return CalendarConnection.objects.create(
        agent=agent,
        provider=provider,
        account=f"{user.username}@calendar.example",
        encrypted_tokens=token_store.encrypt(bundle(**token_changes)),
        status=status,
        status_message="" if status == CalendarConnection.CONNECTED else "Revoked earlier.",
    )


def menu_labels(client):
    menu = sidebar_menu(client.get(reverse("wagtailadmin_home")))
    labels = []
    for item in menu:
        labels.append(item["_args"][0]["label"])
        if item["_type"] == "wagtail.sidebar.SubMenuItem":
            labels += [child["_args"][0]["label"] for child in item["_args"][1]]
    return labels


def page_text(response):
    return WagtailTestUtils.get_soup(response.content).get_text(" ", strip=True)


def messages_of(response):
    return [str(message).strip() for message in response.context["messages"]]


# ---- tokens at rest ---------------------------------------------------------------------------


def test_tokens_round_trip_encrypted():
    original = bundle(cache='{"msal": "cache"}')
    blob = token_store.encrypt(original)
    assert isinstance(blob, bytes)
    assert b"ya29.current" not in blob and b"1//refresh" not in blob
    restored = token_store.decrypt(blob)
    assert restored == original
    assert restored.expires_at.tzinfo is not None
    # Stored and read back through the model (BinaryField: memoryview on PostgreSQL).
    connection = connected(person("bob").user)
    connection.refresh_from_db()
    assert token_store.decrypt(connection.encrypted_tokens).access_token == "ya29.current"


@pytest.mark.parametrize("value", [None, "", []])
def test_no_key_refuses_to_store_tokens(settings, value):
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=value)
    with pytest.raises(ImproperlyConfigured, match=r"CALENDAR_ENCRYPTION_KEY.*not set"):
        token_store.encrypt(bundle())


def test_an_invalid_key_is_refused_without_showing_it(settings):
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY="my-secret-password")
    with pytest.raises(ImproperlyConfigured) as caught:
        token_store.encrypt(bundle())
    assert "not a valid Fernet key" in str(caught.value)
    assert "my-secret-password" not in str(caught.value)
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=[KEY, "short"])
    with pytest.raises(ImproperlyConfigured, match="Key number 2"):
        token_store.decrypt(b"whatever")


def test_key_rotation_with_a_list_of_keys(settings):
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=OLD_KEY)
    old_blob = token_store.encrypt(bundle())

    # The new key goes first; the old one still opens what it encrypted.
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=[KEY, OLD_KEY])
    assert token_store.decrypt(old_blob).access_token == "ya29.current"
    new_blob = token_store.encrypt(bundle())
    rotated = token_store.rotate(old_blob)

    # Once everything is rotated, the old key can go.
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=[KEY])
    assert token_store.decrypt(new_blob).refresh_token == "1//refresh"
    assert token_store.decrypt(rotated).refresh_token == "1//refresh"
    with pytest.raises(token_store.InvalidToken):
        token_store.decrypt(old_blob)


def test_tokens_nobody_can_decrypt_mark_the_connection(ada, settings):
    connection = connected(ada.user)
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=OLD_KEY)
    with pytest.raises(ReauthRequired):
        connections.tokens_for(connection)
    connection.refresh_from_db()
    assert connection.status == CalendarConnection.NEEDS_REAUTH
    assert "decrypted" in connection.status_message


def errors_of(databases=None):
    return [m for m in run_checks(databases=databases) if m.id == "wagtail_dynchat.E010"]


def test_system_check_wants_a_key_once_calendars_are_set_up(settings):
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=None)
    assert errors_of() == []  # no calendars: nothing to encrypt

    set_dynchat(settings, GOOGLE={"CLIENT_ID": "cid.apps.googleusercontent.com"})
    [error] = errors_of()
    assert "CALENDAR_ENCRYPTION_KEY" in error.msg and "GOOGLE" in error.hint

    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY="not-a-key")
    [error] = errors_of()
    assert "not a valid Fernet key" in error.msg

    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=[KEY, OLD_KEY])
    assert errors_of() == []


def test_system_check_wants_a_key_for_stored_connections(settings):
    connected(person("bob").user)
    set_dynchat(settings, CALENDAR_ENCRYPTION_KEY=None)
    assert errors_of() == []  # the database is only looked at when the check is asked to
    [error] = errors_of(databases=["default"])
    assert "stored calendar connections" in error.hint


# ---- the availability form ----------------------------------------------------------------------


def test_parse_day():
    assert parse_day("09:00-12:00, 13:00-17:00") == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert parse_day(" 9-12 ;13:30 \N{EN DASH} 17 ") == [["09:00", "12:00"], ["13:30", "17:00"]]
    assert parse_day("") == []
    for text, message in [
        ("9 to", "is not a block of time"),
        ("25:00-26:00", "is not a block of time"),
        ("12:00-09:00", "must end after it starts"),
        ("09:00-12:00, 11:00-13:00", "overlap"),
    ]:
        with pytest.raises(Exception, match=message):
            parse_day(text)


def settings_form(**changes):
    data = {
        "display_name": "Ada L.",
        "time_zone": "Europe/Berlin",
        "meeting_minutes": 30,
        "buffer_minutes": 10,
        "min_notice_hours": 24,
        "horizon_days": 14,
        "daily_cap": 4,
        "invitation": "Hello {{ person.first_name }}",
        "online_meeting": "on",
        "active": "on",
        "day_0": "09:00-12:00, 13:00-17:00",
        "day_1": "",
        "day_2": "10-16",
        "day_3": "",
        "day_4": "",
        "day_5": "",
        "day_6": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_agent_saves_their_availability(ada):
    page = ada.get(MINE)
    assert page.status_code == 200
    assert "Connect Google Calendar" not in page.content.decode()  # no OAuth app configured
    assert not Agent.objects.exists()  # looking does not create anything

    response = ada.post(MINE, settings_form())
    assert response.status_code == 302
    agent = Agent.objects.get(user=ada.user)
    assert agent.display_name == "Ada L." and agent.time_zone == "Europe/Berlin"
    assert agent.availability["0"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert agent.availability["2"] == [["10:00", "16:00"]]
    assert agent.availability["1"] == [] and agent.daily_cap == 4

    # The page shows the week as it was written.
    form = WagtailTestUtils.get_soup(ada.get(MINE).content)
    assert form.select_one("input[name=day_0]")["value"] == "09:00-12:00, 13:00-17:00"


def test_availability_errors_are_shown_per_day(ada):
    response = ada.post(
        MINE,
        settings_form(
            day_1="09:00-12:00, 11:00-13:00", day_3="noon-ish", meeting_minutes=2, horizon_days=0
        ),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["day_1"] == ["Two blocks overlap."]
    assert "“noon-ish” is not a block of time" in form.errors["day_3"][0]
    assert "day_0" not in form.errors and "day_2" not in form.errors
    assert "between 5 minutes and 8 hours" in form.errors["meeting_minutes"][0]
    assert "horizon_days" in form.errors
    soup = WagtailTestUtils.get_soup(response.content)
    tuesday = soup.select_one("input[name=day_1]").find_parent(attrs={"data-field": True})
    assert "Two blocks overlap." in tuesday.get_text()
    assert not Agent.objects.exists()


# ---- who sees what ---------------------------------------------------------------------------


def test_a_calendar_agent_sees_my_calendar_but_not_other_agents(ada):
    connected(person("grace", "Calendar agent").user)
    labels = menu_labels(ada)
    assert "My calendar" in labels and "Calendars" not in labels
    assert ada.get(MINE).status_code == 200
    response = ada.get(AGENTS)
    assert response.status_code == 302 and response.url == reverse("wagtailadmin_home")
    assert "grace" not in ada.get(MINE).content.decode()


def test_users_without_the_permission_get_nothing():
    outsider = person("olive")
    outsider.user.groups.add(Group.objects.get_or_create(name="Editors only")[0])
    outsider.user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    labels = menu_labels(outsider)
    assert "My calendar" not in labels and "Calendars" not in labels
    for response in (
        outsider.get(MINE),
        outsider.post(MINE, settings_form()),
        outsider.post(connect_url("google")),
        outsider.get(DISCONNECT),
        outsider.get(callback_url("google"), {"state": "x", "code": "y"}),
        outsider.get(AGENTS),
    ):
        assert response.status_code == 302
        assert response.url == reverse("wagtailadmin_home")
    assert not Agent.objects.exists()
    # Not signed in at all: the login page.
    response = Client().get(MINE)
    assert response.status_code == 302 and "login" in response.url


def test_admins_see_every_agents_connection(sales):
    ok = connected(person("ada", "Calendar agent").user)
    broken = connected(
        person("grace", "Calendar agent").user,
        provider="microsoft",
        status=CalendarConnection.NEEDS_REAUTH,
    )
    connections.agent_for(person("linus", "Calendar agent").user, create=True)
    assert "Calendars" in menu_labels(sales)
    assert "My calendar" not in menu_labels(sales)

    response = sales.get(AGENTS)
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    rows = {
        row.select("td")[0].get_text(" ", strip=True).split()[0]: row.get_text(" ", strip=True)
        for row in soup.select("tbody tr")
    }
    assert set(rows) == {"ada", "grace", "linus"}
    assert f"Google Calendar: {ok.account}" in rows["ada"] and "Connected" in rows["ada"]
    assert "Yes" in rows["ada"]
    assert f"Microsoft Outlook: {broken.account}" in rows["grace"]
    assert "Needs to sign in again" in rows["grace"] and "Revoked earlier." in rows["grace"]
    assert "No: no readable calendar" in rows["grace"]
    assert "Not connected" in rows["linus"]
    # Read-only: agents manage their own settings.
    assert sales.get(AGENTS + "create/").status_code == 302

    # A superuser sees both pages.
    boss = person("boss", superuser=True)
    labels = menu_labels(boss)
    assert "My calendar" in labels and "Calendars" in labels
    assert boss.get(AGENTS).status_code == 200


# ---- failures --------------------------------------------------------------------------------


def test_routing_only_offers_agents_with_a_usable_calendar(ada):
    good = connected(ada.user)
    broken = connected(person("grace", "Calendar agent").user)
    off = connected(person("linus", "Calendar agent").user)
    Agent.objects.filter(pk=off.agent_id).update(active=False)
    connections.agent_for(person("nocal", "Calendar agent").user, create=True)
    connections.mark_failing(broken, "invalid_grant")
    assert list(connections.bookable_agents()) == [good.agent]


def test_mark_failing_emails_the_agent_and_admins_once(
    ada, sales, django_capture_on_commit_callbacks
):
    person("boss", superuser=True)
    inactive = person("inactive", connections.SALES_ADMIN_GROUP).user
    inactive.is_active = False
    inactive.save()
    person("nomail", connections.SALES_ADMIN_GROUP, email="")
    connection = connected(ada.user)

    with django_capture_on_commit_callbacks(execute=True):
        assert connections.mark_failing(connection, "Token has been expired or revoked.")
    with django_capture_on_commit_callbacks(execute=True):
        assert not connections.mark_failing(connection, "Still revoked.")
        assert not connections.mark_failing(
            CalendarConnection.objects.get(pk=connection.pk), "Again."
        )

    connection.refresh_from_db()
    assert connection.status == CalendarConnection.NEEDS_REAUTH and not connection.usable
    assert connection.status_message == "Token has been expired or revoked."
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"]
    assert sorted(message.cc) == ["boss@example.com", "sam@example.com"]
    assert "ada" in message.subject and "sign-in" in message.subject
    assert "Token has been expired or revoked." in message.body
    assert "http://testserver" + MINE in message.body
    assert "http://testserver" + AGENTS in message.body

    # The agent's page says so, with a way back in.
    page = ada.get(MINE)
    text = page_text(page)
    assert "Needs to sign in again" in text and "Token has been expired or revoked." in text
    assert "Sign in again" in text

    # Reconnecting and failing again is a new failure: a new e-mail.
    CalendarConnection.objects.filter(pk=connection.pk).update(
        status=CalendarConnection.CONNECTED, status_message=""
    )
    connection.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert connections.mark_failing(connection, "Revoked once more.")
    assert len(mail.outbox) == 2


def test_tokens_for_a_failing_connection_asks_nobody(ada, monkeypatch):
    connection = connected(ada.user, status=CalendarConnection.NEEDS_REAUTH)

    def boom(*args, **kwargs):
        raise AssertionError("the provider must not be asked")

    monkeypatch.setattr(connections, "provider_module", boom)
    with pytest.raises(ReauthRequired, match=r"Revoked earlier\."):
        connections.tokens_for(connection)


def test_valid_tokens_are_used_as_they_are(ada, monkeypatch):
    connection = connected(ada.user)
    monkeypatch.setattr(connections, "provider_module", lambda name: pytest.fail("no refresh"))
    assert connections.tokens_for(connection).access_token == "ya29.current"


def test_save_tokens_writes_only_changes(ada, django_assert_num_queries):
    connection = connected(ada.user)
    current = token_store.decrypt(connection.encrypted_tokens)
    before = dataclasses.replace(current)
    with django_assert_num_queries(0):
        connections.save_tokens(connection, current, previous=before)
    current.access_token = "ya29.renewed"
    with django_assert_num_queries(1):
        connections.save_tokens(connection, current, previous=before)
    connection.refresh_from_db()
    assert token_store.decrypt(connection.encrypted_tokens).access_token == "ya29.renewed"


# ---- connecting without the fakes ----------------------------------------------------------------


def test_a_forged_or_missing_state_is_refused(ada, settings):
    set_dynchat(settings, GOOGLE={"CLIENT_ID": "cid", "CLIENT_SECRET": "secret"})
    for query in ({"code": "4/abc"}, {"code": "4/abc", "state": "forged"}):
        response = ada.get(callback_url("google"), query, follow=True)
        assert response.redirect_chain[-1][0] == MINE
        [message] = messages_of(response)
        assert "cannot be accepted" in message and "start again" in message
    assert not CalendarConnection.objects.exists()


def test_connecting_needs_a_key_and_an_oauth_app(ada, settings):
    response = ada.post(connect_url("google"), follow=True)
    assert "Google Calendar is not set up on this site" in messages_of(response)[0]

    set_dynchat(settings, GOOGLE={"CLIENT_ID": "cid"}, CALENDAR_ENCRYPTION_KEY=None)
    response = ada.post(connect_url("google"), follow=True)
    assert "no valid encryption key" in messages_of(response)[0]

    response = ada.post(connect_url("yahoo"), follow=True)
    assert "Unknown calendar provider" in messages_of(response)[0]
    assert ada.get(connect_url("google")).status_code == 405
    assert not CalendarConnection.objects.exists()


# ---- connecting through the admin, against the fakes -------------------------------------------


def sign_in_at(url, **kwargs):
    """What the browser does with the sign-in URL: the fake consents at once and redirects back
    to our callback; returns that callback's path and parameters."""
    response = requests.get(url, allow_redirects=False, timeout=10, **kwargs)
    assert response.status_code == 302, response.text
    location = urlparse(response.headers["Location"])
    assert location.netloc == "testserver"
    return location.path, {key: values[-1] for key, values in parse_qs(location.query).items()}


def start_connect(client, provider):
    response = client.post(connect_url(provider))
    assert response.status_code == 302
    return response.url


@pytest.mark.parametrize(
    ("provider", "button", "account", "label"),
    [
        ("google", "Connect Google Calendar", "agent@example.com", "Google Calendar"),
        ("microsoft", "Connect Outlook", "agent@contoso.com", "Microsoft Outlook"),
    ],
)
def test_agent_connects_a_calendar(
    ada, provider, button, account, label, google_fake, microsoft_fake
):
    fake = google_fake if provider == "google" else microsoft_fake
    page = page_text(ada.get(MINE))
    assert "Connect Google Calendar" in page and "Connect Outlook" in page
    assert "No calendar is connected" in page

    url = start_connect(ada, provider)
    assert url.startswith(fake.base_url)
    query = parse_qs(urlparse(url).query)
    assert query["redirect_uri"] == ["http://testserver" + callback_url(provider)]
    assert query["code_challenge_method"] == ["S256"]
    path, params = sign_in_at(url)
    assert path == callback_url(provider)

    response = ada.get(path, params, follow=True)
    assert response.redirect_chain[-1][0] == MINE
    assert messages_of(response) == [
        f"Your {label} {account} is connected: visitors can book you now."
    ]
    connection = CalendarConnection.objects.get(agent__user=ada.user)
    assert (connection.provider, connection.account) == (provider, account)
    assert connection.usable
    stored = token_store.decrypt(connection.encrypted_tokens)
    assert stored.account == account
    assert stored.refresh_token or stored.cache
    # The code was exchanged with the PKCE verifier of this sign-in.
    [exchange] = fake.calls("token")
    assert exchange.body["grant_type"] == "authorization_code"
    assert exchange.body["code_verifier"]

    text = page_text(response)
    assert f"{label}: {account}" in text and "Connected" in text
    assert "Sign in again" in text and "Disconnect" in text
    assert button not in text
    assert connections.tokens_for(connection).account == account

    # The same answer cannot be used twice.
    response = ada.get(path, params, follow=True)
    assert "cannot be accepted" in messages_of(response)[0]
    assert CalendarConnection.objects.count() == 1


def test_signing_in_again_replaces_the_connection(ada, google_fake, microsoft_fake):
    ada.get(*sign_in_at(start_connect(ada, "google")))
    first = CalendarConnection.objects.get()
    connections.mark_failing(first, "revoked")

    microsoft_fake.default_user = "ada@contoso.com"
    ada.get(*sign_in_at(start_connect(ada, "microsoft")))
    connection = CalendarConnection.objects.get()
    assert connection.pk != first.pk
    assert (connection.provider, connection.account, connection.status) == (
        "microsoft",
        "ada@contoso.com",
        CalendarConnection.CONNECTED,
    )
    assert connection.status_message == ""


def test_a_declined_or_foreign_sign_in_is_refused(ada, google_fake, microsoft_fake):
    # The agent clicked "Cancel" at Microsoft.
    url = start_connect(ada, "microsoft")
    answer = microsoft_fake.sign_in(url, deny=True)
    response = ada.get(callback_url("microsoft"), answer, follow=True)
    assert messages_of(response) == [
        "You did not allow access to your calendar at Microsoft Outlook."
    ]

    # Someone sends Ada the answer to their own sign-in (login CSRF): her session never
    # started it, so nothing is stored — not even for Grace, who started it.
    grace = person("grace", "Calendar agent")
    path, params = sign_in_at(start_connect(grace, "google"))
    response = ada.get(path, params, follow=True)
    assert "cannot be accepted" in messages_of(response)[0]

    # An answer arriving at the other provider's callback is refused too.
    path, params = sign_in_at(start_connect(ada, "google"))
    response = ada.get(callback_url("microsoft"), params, follow=True)
    assert "cannot be accepted" in messages_of(response)[0]
    assert not CalendarConnection.objects.exists()
    assert not google_fake.calls("token") and not microsoft_fake.calls("token")


def expire_stored_tokens(connection):
    stored = token_store.decrypt(connection.encrypted_tokens)
    stored.expires_at = datetime.datetime.now(UTC) - datetime.timedelta(minutes=5)
    connections.save_tokens(connection, dataclasses.replace(stored))
    connection.refresh_from_db()
    return stored


def test_expired_google_tokens_are_refreshed_silently(ada, google_fake):
    ada.get(*sign_in_at(start_connect(ada, "google")))
    connection = CalendarConnection.objects.get()
    old = expire_stored_tokens(connection)

    fresh = connections.tokens_for(connection)
    assert fresh.access_token != old.access_token
    assert fresh.refresh_token == old.refresh_token  # Google keeps the refresh token
    assert not fresh.expired()
    grants = [call.body["grant_type"] for call in google_fake.calls("token")]
    assert grants == ["authorization_code", "refresh_token"]
    connection.refresh_from_db()
    assert token_store.decrypt(connection.encrypted_tokens).access_token == fresh.access_token
    assert connection.usable and mail.outbox == []

    # Now valid: used as they are, no second refresh.
    connections.tokens_for(connection)
    assert len(google_fake.calls("token")) == 2


def test_microsoft_tokens_come_from_msals_cache_and_refresh(ada, microsoft_fake):
    microsoft_fake.access_token_lifetime = 60  # msal refreshes tokens with < 5 minutes left
    ada.get(*sign_in_at(start_connect(ada, "microsoft")))
    connection = CalendarConnection.objects.get()
    before = token_store.decrypt(connection.encrypted_tokens)
    connections.tokens_for(connection)
    assert [call.body["grant_type"] for call in microsoft_fake.calls("token")] == [
        "authorization_code",
        "refresh_token",
    ]
    connection.refresh_from_db()
    assert token_store.decrypt(connection.encrypted_tokens).cache != before.cache


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_revoked_calendar_takes_the_agent_out_and_emails_once(
    ada, sales, provider, google_fake, microsoft_fake, django_capture_on_commit_callbacks
):
    fake = google_fake if provider == "google" else microsoft_fake
    fake.access_token_lifetime = 60
    ada.get(*sign_in_at(start_connect(ada, provider)))
    connection = CalendarConnection.objects.get()
    expire_stored_tokens(connection)
    fake.revoke_user(connection.account)

    for _attempt in range(2):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ReauthRequired):
            connections.tokens_for(CalendarConnection.objects.get())
    connection.refresh_from_db()
    assert connection.status == CalendarConnection.NEEDS_REAUTH
    assert "invalid_grant" in connection.status_message
    assert list(connections.bookable_agents()) == []
    # The second attempt did not even ask the provider.
    assert len([c for c in fake.calls("token") if c.body["grant_type"] == "refresh_token"]) == 1

    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and message.cc == ["sam@example.com"]
    assert connection.account in message.body and MINE in message.body

    # Signing in again brings the agent back.
    fake.default_user = connection.account
    ada.get(*sign_in_at(start_connect(ada, provider)))
    assert [c.agent for c in CalendarConnection.objects.all()] == list(
        connections.bookable_agents()
    )


def test_disconnect_revokes_and_deletes(ada, google_fake):
    ada.get(*sign_in_at(start_connect(ada, "google")))
    connection = CalendarConnection.objects.get()
    refresh_token = token_store.decrypt(connection.encrypted_tokens).refresh_token

    confirm = ada.get(DISCONNECT)
    assert confirm.status_code == 200
    assert "Disconnect your Google Calendar (agent@example.com)?" in page_text(confirm)
    assert CalendarConnection.objects.exists()
    assert Client().post(DISCONNECT).status_code == 302  # signed out: nothing happens
    assert CalendarConnection.objects.exists()

    response = ada.post(DISCONNECT, follow=True)
    assert "Your calendar is disconnected" in messages_of(response)[0]
    assert not CalendarConnection.objects.exists()
    assert Agent.objects.filter(user=ada.user).exists()  # the settings stay
    [revoke] = google_fake.calls("revoke")
    assert revoke.body["token"] == refresh_token
    assert google_fake.refresh_tokens[refresh_token]["revoked"]
    assert "Connect Google Calendar" in page_text(response)
    assert ada.get(DISCONNECT).status_code == 302  # nothing left to disconnect


def test_disconnect_still_deletes_when_the_provider_fails(ada, google_fake):
    ada.get(*sign_in_at(start_connect(ada, "google")))
    google_fake.fail("revoke", 503)
    ada.post(DISCONNECT)
    assert not CalendarConnection.objects.exists()
