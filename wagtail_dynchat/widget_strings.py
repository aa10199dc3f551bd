"""The widget's system texts, translated by Django's gettext catalogues.

The widget ships English defaults under the same keys (so a failed lookup still reads well); the
bootstrap answer carries these in the page's language.
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

STRINGS = {
    # Screen-reader name of the launcher button, followed by the dialogue's title.
    "open": _("Open chat: "),
    "close": _("Close chat"),
    "dismiss": _("Dismiss message"),
    # Landmark name of a floating chat, followed by ": " and the dialogue's title.
    "region": pgettext_lazy("landmark", "Chat"),
    "log": _("Chat messages"),
    # Read before each of the visitor's own messages by screen readers.
    "you": _("You:"),
    "send": _("Send"),
    "skip": _("Skip"),
    "choose": _("Choose…"),
    "answer": _("Type your answer"),
    "newTab": _("(opens in a new tab)"),
    "slow": _("You're going a bit fast — please try again in a moment."),
    "error": _("Sorry, something went wrong. Please try again."),
    "ended": _("This conversation has ended."),
    # Announced while the bot "types" its next message.
    "typing": _("Typing…"),
    "latest": _("Show the latest message"),
    "privacy": _("Privacy policy"),
    "consent": _(
        "This chat sets a cookie and keeps what you tell it, so that we can answer you. "
        "Do you agree?"
    ),
    "accept": _("Accept and chat"),
    "decline": _("No, thanks"),
    "declined": _("Nothing was stored. You can open the chat again at any time."),
    # Shown above the first message, followed by the date and time in the visitor's time zone.
    "started": _("Conversation started"),
    # The meeting card's time picker (meeting.js).
    "days": _("Choose a day"),
    "times": _("Choose a time"),
    "noTimes": _("There are no free times in the coming days."),
    "invite": _("Your e-mail address, for the invitation"),
    "needEmail": _("Please enter your e-mail address for the invitation."),
    "continue": _("Continue"),
}


def widget_strings():
    """The widget's texts in the active language, as plain strings."""
    return {key: str(text) for key, text in STRINGS.items()}
