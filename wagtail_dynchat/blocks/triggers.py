"""When a dialogue is shown. Triggers are evaluated in the browser by the loader; the first one
that fires shows the dialogue."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from .base import IdentifierBlock


class TriggerBlock(blocks.StructBlock):
    trigger_type = None

    def compile(self, value):
        """The loader's JSON for this trigger (see docs/api.md)."""
        return {"type": self.trigger_type, **{name: value[name] for name in self.child_blocks}}


class SecondsTrigger(TriggerBlock):
    seconds = blocks.IntegerBlock(min_value=1, max_value=24 * 60 * 60, label=_("Seconds"))

    class Meta:
        icon = "time"
        label_format = "{seconds} s"


class TimeOnPageTrigger(SecondsTrigger):
    trigger_type = "time_on_page"

    class Meta:
        label = _("Time on page")


class TimeOnSiteTrigger(SecondsTrigger):
    trigger_type = "time_on_site"

    class Meta:
        label = _("Time on site (this visit)")


class InactivityTrigger(SecondsTrigger):
    trigger_type = "inactivity"

    class Meta:
        label = _("Inactivity")


class ScrollTrigger(TriggerBlock):
    trigger_type = "scroll"
    percent = blocks.IntegerBlock(min_value=1, max_value=100, label=_("Scrolled at least (%)"))

    class Meta:
        icon = "arrow-down"
        label = _("Scroll depth")
        label_format = "{percent} %"


class ClickTrigger(TriggerBlock):
    trigger_type = "click"
    selector = IdentifierBlock(
        max_length=200,
        label=_("CSS selector"),
        help_text=_("Clicking an element that matches shows the dialogue, e.g. '.talk-to-sales'."),
    )

    class Meta:
        icon = "link"
        label = _("Click on an element")
        label_format = "{selector}"

    def clean(self, value):
        value = super().clean(value)
        selector = (value.get("selector") or "").strip()
        # The loader only ever calls Element.closest(); braces and angle brackets would mean
        # someone pasted CSS or HTML rather than a selector.
        if selector and any(char in selector for char in "{}<>;"):
            raise blocks.StructBlockValidationError(
                block_errors={"selector": ValidationError(_("Enter a CSS selector only."))}
            )
        return value


class FlagTrigger(TriggerBlock):
    """A trigger with no settings."""

    def compile(self, value):
        return {"type": self.trigger_type}


class ImmediatelyTrigger(FlagTrigger):
    trigger_type = "immediately"

    class Meta:
        icon = "pick"
        label = _("Immediately")


class ExitIntentTrigger(FlagTrigger):
    trigger_type = "exit_intent"

    class Meta:
        icon = "logout"
        label = _("Exit intent (desktop)")


class TriggersBlock(blocks.StreamBlock):
    """Any of these shows the dialogue; none means only links and the JavaScript API open it."""

    immediately = ImmediatelyTrigger()
    time_on_page = TimeOnPageTrigger()
    time_on_site = TimeOnSiteTrigger()
    scroll = ScrollTrigger()
    exit_intent = ExitIntentTrigger()
    inactivity = InactivityTrigger()
    click = ClickTrigger()

    class Meta:
        label = _("Triggers")

    def compile(self, value):
        """The loader's trigger list for a triggers value."""
        return [child.block.compile(child.value) for child in value or []]
