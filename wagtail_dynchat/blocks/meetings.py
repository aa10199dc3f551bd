from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..person_fields import person_field_choices
from .base import PROMPT_FEATURES, CardBlock


def queue_choices():
    """The meeting queues, for the card's select (read when the form renders)."""
    from ..models import MeetingQueue

    return [("", "---------")] + [
        (str(pk), name) for pk, name in MeetingQueue.objects.values_list("pk", "name")
    ]


class MeetingCardBlock(CardBlock):
    """Offers free times of the right sales agent and books the one the visitor picks."""

    card_type = "meeting"

    prompt = blocks.RichTextBlock(
        features=PROMPT_FEATURES, label=_("Message"), help_text=_("Shown above the times.")
    )
    queue = blocks.ChoiceBlock(
        choices=queue_choices,
        required=False,
        label=_("Queue"),
        help_text=_(
            "Agents who take these meetings, unless account routing or a routing rule picks "
            "someone first."
        ),
    )
    invitation = blocks.TextBlock(
        required=False,
        label=_("Invitation text"),
        help_text=_(
            "The calendar invitation's description, instead of the agent's own; tokens such "
            "as {{ person.first_name }} work."
        ),
    )
    online_meeting = blocks.BooleanBlock(
        required=False, default=True, label=_("Add a video call link")
    )
    agent_field = blocks.ChoiceBlock(
        choices=person_field_choices,
        required=False,
        label=_("Store the agent in"),
        help_text=_("A person field that keeps who the meeting is with."),
    )
    agent_value = blocks.ChoiceBlock(
        choices=[("name", _("The agent's name")), ("email", _("The agent's e-mail address"))],
        default="name",
        label=_("Store"),
    )
    fallback = blocks.TextBlock(
        required=False,
        label=_("When nobody is free"),
        help_text=_("Blank uses the system message."),
    )

    class Meta:
        icon = "date"
        label = _("Meeting")

    def compile(self, value, *, render):
        queue = value.get("queue")
        return {
            "html": self.html(value.get("prompt"), render=render),
            "queue": int(queue) if queue else None,
            "invitation": value.get("invitation") or "",
            "online_meeting": bool(value.get("online_meeting")),
            "field": value.get("agent_field") or "",
            "agent_value": value.get("agent_value") or "name",
            "fallback": value.get("fallback") or "",
        }
