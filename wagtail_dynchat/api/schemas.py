"""Input and output schemas of the visitor API (they also make the OpenAPI document)."""

from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StrictInt, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

CardId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w-]+$")]
# Browsers percent-encode control characters; a raw NUL cannot even be stored by PostgreSQL.
Url = Annotated[str, StringConstraints(max_length=2048, pattern=r"^[^\x00-\x1f\x7f]*$")]
AnswerText = Annotated[str, StringConstraints(max_length=2000)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[-a-zA-Z0-9_]+$")]


class StartIn(Schema):
    dialogue: StrictInt = Field(..., gt=0, description="Id of the dialogue that was shown.")
    page: StrictInt | None = Field(
        ..., gt=0, description="Id of the Wagtail page it was shown on; null outside the tree."
    )
    url: Url = Field("", description="Address of the page (URL rules, UTM facts, transcript).")
    ref: Url = Field("", description="The page's referrer (document.referrer).")
    mode: Literal["chatbot", "popup", "inline"] = Field(
        "chatbot",
        description="Triggered as the chatbot, or opened as a pop-up (link, JavaScript API) or "
        "inline embed, which skips page targeting.",
    )


class MeetingChoice(Schema):
    start: Annotated[str, StringConstraints(max_length=40)] = Field(
        ..., description="The chosen start time, as offered (ISO 8601 with offset)."
    )
    tz: Annotated[str, StringConstraints(max_length=64)] = Field(
        ..., description="The visitor's time zone (IANA name), for the confirmation."
    )
    email: Annotated[str, StringConstraints(max_length=254)] | None = Field(
        None, description="The visitor's e-mail, when the meeting item asked for it."
    )


class AnswerIn(Schema):
    step: StrictInt = Field(..., ge=0, description="The conversation's `step` being answered.")
    mode: Literal["chatbot", "popup", "inline"] | None = Field(
        None,
        description="How the chat answering is shown; the first answer fixes whether the "
        "conversation follows the visitor (chatbot, pop-up) or stays in its page (inline).",
    )
    card: CardId = Field(..., description="Id of the awaited card.")
    value: StrictInt | AnswerText | MeetingChoice | None = Field(
        None,
        description="Choice index for a question; text (or null to skip) for a capture; the "
        "chosen time for a meeting card.",
    )

    @field_validator("value", mode="wrap")
    @classmethod
    def _one_message(cls, value, handler):
        # One readable reason instead of one per member of the union.
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(
                "answer_value",
                "Send a choice index, a text of at most {max_length} characters, a meeting time "
                "(start, tz, email), or null.",
                {"max_length": 2000},
            ) from None


class EventIn(Schema):
    kind: Literal["document_opened"]
    card: CardId


class SlotDay(Schema):
    date: str
    times: list[str]


class SlotsOut(Schema):
    tz: str
    days: list[SlotDay]


class DialogueOut(Schema):
    id: int | None
    slug: str
    title: str
    teaser: str | None
    # {"type": …} plus the type's own fields; see docs/api.md.
    triggers: list[dict]
    lang: str | None = Field(None, description="Language of the dialogue's content.")


class AwaitingOut(Schema):
    card: str
    kind: str


class ConversationOut(Schema):
    id: str
    dialogue: DialogueOut
    status: Literal["active", "completed"]
    step: int
    items: list[dict]
    awaiting: AwaitingOut | None
    started: str | None = Field(None, description="When it started (ISO 8601, UTC).")


class SetupOut(Schema):
    lang: str
    dir: Literal["ltr", "rtl"]
    # System texts of the widget in the page's language; see widget_strings.py for the keys.
    strings: dict[str, str]
    # The site's branding and behaviour (ChatSettings); see docs/api.md.
    look: dict


class ConsentOut(Schema):
    text: str = Field(..., description="The site's consent text; empty for the default.")


class BootstrapOut(Schema):
    dialogue: DialogueOut | None
    conversation: ConversationOut | None
    setup: SetupOut | None = None
    consent: ConsentOut | None = Field(
        None, description="Present when the visitor must accept before anything is stored."
    )


class ConsentIn(Schema):
    accept: bool = Field(..., description="True to accept; false to refuse or withdraw.")


class ConversationEnvelope(Schema):
    conversation: ConversationOut


class AnswerOut(Schema):
    conversation: ConversationOut
    items: list[dict]


class ErrorOut(Schema):
    error: str
    message: str
