"""Audience rules as blocks: rules in groups, compiled to the engine's audience JSON.

The shape (a StructBlock of "match" and a list of groups, each a "match" and a list of rules)
keeps every rule one row of four small fields in the admin, and maps one to one onto the JSON
:func:`~wagtail_dynchat.engine.evaluate` reads. Attribute choices come from the registry per use,
so attributes added by hooks need no migration.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..attributes import attribute_choices, attribute_labels, get_attributes
from ..engine import rules as engine_rules
from .base import IdentifierBlock

GROUP_MATCHES = [
    ("all", _("All of these rules")),
    ("any", _("Any of these rules")),
]
AUDIENCE_MATCHES = [
    ("any", _("Any group matches")),
    ("all", _("Every group matches")),
]


def operator_choices():
    """All operators; a callable so that relabelling one never needs a migration."""
    return [
        (operator, engine_rules.OPERATOR_LABELS[operator]) for operator in engine_rules.OPERATORS
    ]


def compile_rule(value, attributes=None):
    """The engine's JSON for one rule value; ``type`` and ``keyed`` come from the registry.

    An attribute the registry does not know (removed since) is compared as text, and
    :func:`~wagtail_dynchat.engine.validate_rule` reports it when given the registry.
    """
    attributes = get_attributes() if attributes is None else attributes
    name = (value.get("attribute") or "").strip()
    attribute = attributes.get(name)
    keyed = bool(attribute and attribute.keyed)
    return {
        "attribute": name,
        "type": attribute.type if attribute else "text",
        "operator": value.get("operator") or "",
        "value": (value.get("value") or "").strip(),
        # A key left over from a keyed attribute chosen earlier means nothing to this one.
        "key": (value.get("key") or "").strip() if keyed else "",
        "keyed": keyed,
    }


def _choice_errors(rule, attribute):
    """The value is not one of a closed set of values (a weekday, a device type)."""
    if not (attribute and attribute.choices) or rule["operator"] not in ("is", "is_not", "in_list"):
        return []
    allowed = {value.casefold() for value, _label in attribute.choices}
    items = engine_rules.list_items(rule["value"]) if rule["operator"] == "in_list" else []
    for item in items or [rule["value"]]:
        if item.casefold() not in allowed:
            message = _("“%(value)s” is never a value of this attribute. Use one of: %(choices)s.")
            return [
                message
                % {"value": item, "choices": ", ".join(value for value, _l in attribute.choices)}
            ]
    return []


class RuleBlock(blocks.StructBlock):
    """One test of one attribute, e.g. "Country is one of DE, AT"."""

    attribute = blocks.ChoiceBlock(choices=attribute_choices, label=_("Attribute"))
    operator = blocks.ChoiceBlock(choices=operator_choices, default="is", label=_("Operator"))
    value = IdentifierBlock(
        max_length=1000,
        required=False,
        label=_("Value"),
        help_text=_(
            "Text ignores case. Numbers like 42 or 3.5, dates as YYYY-MM-DD, yes/no for "
            "yes-or-no attributes; separate the values of “is one of” with commas."
        ),
    )
    key = IdentifierBlock(
        max_length=100,
        required=False,
        label=_("Parameter"),
        help_text=_("Only for query parameters: the parameter's name, e.g. utm_id."),
    )

    class Meta:
        icon = "crosshairs"
        label = _("Rule")
        label_format = "{attribute} {key} {operator} {value}"

    def compile(self, value, attributes=None):
        return compile_rule(value, attributes)

    def clean(self, value):
        value = super().clean(value)
        if self.is_deferred_validation:
            return value
        attributes = get_attributes()
        rule = compile_rule(value, attributes)
        errors = engine_rules.rule_errors(rule, attributes)
        if "value" not in errors and "operator" not in errors:
            choice_errors = _choice_errors(rule, attributes.get(rule["attribute"]))
            if choice_errors:
                errors["value"] = choice_errors
        if errors:
            # "type" problems name no field of this block; they go on the rule as a whole.
            general = errors.pop("type", [])
            raise blocks.StructBlockValidationError(
                block_errors={name: ValidationError(messages) for name, messages in errors.items()},
                non_block_errors=general,
            )
        return value


class RuleGroupBlock(blocks.StructBlock):
    """Rules that must all (or any one of them) hold."""

    match = blocks.ChoiceBlock(choices=GROUP_MATCHES, default="all", label=_("Match"))
    rules = blocks.ListBlock(RuleBlock(), label=_("Rules"))

    class Meta:
        icon = "list-ul"
        label = _("Group")
        label_format = "{match}: {rules}"


class AudienceBlock(blocks.StructBlock):
    """Who something applies to: groups of rules. No rules at all means everyone."""

    match = blocks.ChoiceBlock(choices=AUDIENCE_MATCHES, default="any", label=_("Visitors when"))
    # No groups by default: an untouched audience means everyone, never a half-filled rule.
    groups = blocks.ListBlock(RuleGroupBlock(), min_num=0, default=[], label=_("Groups"))

    class Meta:
        icon = "group"
        label = _("Audience")
        label_format = "{groups}"

    def compile(self, value):
        """The engine's audience JSON for a value of this block."""
        attributes = get_attributes()
        value = value or {}
        return {
            "match": value.get("match") or "any",
            "groups": [
                {
                    "match": group.get("match") or "all",
                    "rules": [compile_rule(rule, attributes) for rule in group.get("rules") or []],
                }
                for group in value.get("groups") or []
            ],
        }

    def summarise(self, value):
        """A one-line summary for listings, e.g. "Device type is mobile"."""
        return engine_rules.summarise(self.compile(value), attribute_labels())
