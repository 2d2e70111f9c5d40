"""The campaign as organisers write it: immutable, validated pydantic models.

These models check what one value can check on its own (types, required fields, handle syntax,
time zones, cron syntax). Checks that need the whole campaign (duplicate ids, missing languages,
references between entries, the active window) live in `bot.checks.campaign_rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Literal

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.problems import excerpt
from bot.timezones import Timezone

POST_PLATFORMS = ("x", "bluesky", "mastodon")
AMPLIFY_PLATFORMS = ("x", "bluesky", "mastodon")
ASK_PLATFORMS = ("x", "bluesky", "mastodon", "threads", "email")
PostPlatform = Literal["x", "bluesky", "mastodon"]
AmplifyPlatform = Literal["x", "bluesky", "mastodon"]
AskPlatform = Literal["x", "bluesky", "mastodon", "threads", "email"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _matches(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"'{excerpt(value)}' is not {what}")
        return value

    return check


Id = Annotated[
    str,
    AfterValidator(
        _matches(
            r"[a-z0-9][a-z0-9_-]{0,63}",
            "a valid id (lower-case letters, digits, '-' and '_', starting with a letter or digit)",
        )
    ),
]
Language = Annotated[
    str,
    AfterValidator(
        _matches(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,6}", "a language code such as cy or en")
    ),
]
NonEmpty = Annotated[str, Field(min_length=1)]
LangText = dict[Language, NonEmpty]
# Names and roles: one text for every language, or one per language (templates: `| local`).
Localised = NonEmpty | LangText
Url = Annotated[str, AfterValidator(_matches(r"https?://[^\s/$.?#][^\s]*", "an http(s) URL"))]


def _strip_prefix(prefix: str) -> Callable[[object], object]:
    def strip(value: object) -> object:
        return value[1:] if isinstance(value, str) and value.startswith(prefix) else value

    return strip


# X: 1-15 of [A-Za-z0-9_] (a leading @ is accepted and dropped).
XHandle = Annotated[
    str,
    BeforeValidator(_strip_prefix("@")),
    AfterValidator(_matches(r"[A-Za-z0-9_]{1,15}", "an X handle (1-15 of A-Z, a-z, 0-9 and _)")),
]
_DOMAIN = r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Bluesky: a domain name handle (e.g. name.bsky.social) or a DID.
BlueskyHandle = Annotated[
    str,
    BeforeValidator(_strip_prefix("@")),
    AfterValidator(
        _matches(
            rf"{_DOMAIN}|did:(plc|web):[A-Za-z0-9._:%-]+",
            "a Bluesky handle (a domain name such as name.bsky.social) or a DID",
        )
    ),
]
MastodonHandle = Annotated[
    str,
    BeforeValidator(_strip_prefix("@")),
    AfterValidator(
        _matches(rf"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*@{_DOMAIN}", "a Mastodon address (user@server)")
    ),
]
ThreadsHandle = Annotated[
    str,
    BeforeValidator(_strip_prefix("@")),
    AfterValidator(
        _matches(r"[A-Za-z0-9._]{1,30}", "a Threads username (1-30 of A-Z, 0-9, . and _)")
    ),
]
Email = Annotated[str, AfterValidator(_matches(r"[^@\s]+@" + _DOMAIN, "an email address"))]
Hashtag = Annotated[
    str,
    BeforeValidator(_strip_prefix("#")),
    AfterValidator(
        _matches(
            r"[^\s#!$%^&*+=.,;:?'\"()\[\]{}<>/\\|`~]+", "a hashtag without spaces or punctuation"
        )
    ),
]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _date_or_datetime(value: object) -> object:
    """A bare 'YYYY-MM-DD' is a date (a whole day), anything else is read as a date and time."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return value  # pydantic reports it
    if isinstance(value, str):
        return _parse_datetime(value)
    return value


def _parse_datetime(value: str) -> object:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return value  # pydantic reports it with its own wording


Moment = Annotated[date | datetime, BeforeValidator(_date_or_datetime)]


class Window(Model):
    """The active window, in the campaign's time zone. A bare end date includes that whole day."""

    start: Moment
    end: Moment | None = None

    def start_local(self) -> datetime:
        return _as_datetime(self.start, end_of_day=False)

    def end_local(self) -> datetime | None:
        return None if self.end is None else _as_datetime(self.end, end_of_day=True)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        end = self.end_local()
        if end is not None and end <= self.start_local():
            raise ValueError("the window ends before it starts: 'end' must be after 'start'")
        return self


def _as_datetime(value: datetime | date, *, end_of_day: bool) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time.max if end_of_day else time.min)


class QuietHours(Model):
    """No posting from `start` to `end` (local time); may wrap past midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class Image(Model):
    path: NonEmpty
    alt: LangText


class Weekly(Model):
    days: list[Weekday] = Field(min_length=1)
    times: list[time] = Field(min_length=1)


class Schedule(Model):
    """Exactly one of: a one-off `at`, `daily` times, a `weekly` plan, or a `cron` expression."""

    at: datetime | None = None
    daily: list[time] | None = Field(default=None, min_length=1)
    weekly: Weekly | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        given = [name for name in ("at", "daily", "weekly", "cron") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "a schedule needs exactly one of 'at', 'daily', 'weekly' or 'cron'"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.cron is not None:
            try:
                CronSim(self.cron, datetime(2000, 1, 1))
            except CronSimError as exc:
                raise ValueError(
                    f"invalid cron expression '{excerpt(self.cron)}': {excerpt(exc)} "
                    "(five fields: minute hour day-of-month month day-of-week)"
                ) from None
        return self

    @property
    def one_off(self) -> bool:
        return self.at is not None


CardSize = Literal["landscape", "portrait"]
_BOOL = TypeAdapter(bool)


class Message(Model):
    """A post the bot publishes on its own account."""

    id: Id
    schedule: Schedule
    text: LangText | None = None
    template: NonEmpty | None = None
    quote_pool: Id | None = None
    link: NonEmpty | None = None
    hashtags: list[Hashtag] | None = None
    image: Image | None = None
    # Attach the rotated quote's card (in the post's language, with its alt text): `true` or
    # `landscape` the 1200x675 card, `portrait` the 1080x1350 one.
    card: Literal[False, True, "landscape", "portrait"] = False
    platforms: list[PostPlatform] | None = None
    # Replies posted under the message, in order, making a thread (text per language each).
    thread: list[LangText] = []
    # A slot missed by more than this (the bot was down) is recorded as missed, not posted late.
    max_delay_minutes: int = Field(60, ge=0)
    # Move each slot by a fixed pseudo-random amount within +/- this many minutes.
    jitter_minutes: int = Field(0, ge=0, le=720)

    @field_validator("card", mode="before")
    @classmethod
    def _card_value(cls, card: object) -> object:
        if card in ("landscape", "portrait"):
            return card
        try:
            return _BOOL.validate_python(card)  # true/false as pydantic reads them
        except ValidationError:
            pass
        raise ValueError(
            f"'card' is true, false, landscape or portrait (the card's size), not "
            f"'{excerpt(str(card))}'"
        )

    @field_validator("card")
    @classmethod
    def _card_needs_quotes(cls, card: bool | str, info: ValidationInfo) -> bool | str:
        # quote_pool is declared before card, so it is in info.data unless it was itself invalid.
        if card and "quote_pool" in info.data and info.data["quote_pool"] is None:
            raise ValueError(
                "'card: true' needs a 'quote_pool': a card shows the quote the post rotates"
            )
        return card

    @property
    def card_size(self) -> CardSize | None:
        """The size of the card its posts carry (`card: true` is landscape), or None."""
        if self.card is False:
            return None
        return "landscape" if self.card is True else self.card

    @model_validator(mode="after")
    def _text_or_template(self) -> Message:
        if (self.text is None) == (self.template is None):
            raise ValueError("a message needs either 'text' (per language) or 'template', not both")
        return self


class Quote(Model):
    id: Id
    who: Localised
    role: Localised | None = None
    organisation: Localised | None = None
    text: LangText
    source: NonEmpty


class QuotePool(Model):
    id: Id
    quotes: list[Quote] = Field(min_length=1)


class Handles(Model):
    x: XHandle | None = None
    bluesky: BlueskyHandle | None = None
    mastodon: MastodonHandle | None = None
    threads: ThreadsHandle | None = None
    email: Email | None = None


class Supporter(Model):
    name: Localised
    kind: Literal["organisation", "person"] = "organisation"
    url: Url | None = None
    handles: Handles = Handles()


class Target(Model):
    """A politician or office the supporters are asked to message."""

    id: Id
    name: NonEmpty
    role: str | None = None
    constituency: str | None = None
    region: str | None = None
    party: str | None = None
    language: Language | None = None
    # Where they stand on the campaign (organiser-defined, e.g. supportive, undecided, opposed):
    # it picks which wordings of an ask they are sent.
    stance: Id | None = None
    handles: Handles = Handles()
    sources: dict[Literal["x", "bluesky", "mastodon", "threads", "email"], NonEmpty] = {}


class Wording(Model):
    """One wording of an ask: a text for every target, or only for targets of the listed stances.

    Written as a plain text, or as a mapping `{text: ..., stances: [...]}`.
    """

    text: NonEmpty
    stances: list[Id] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, value: object) -> object:
        if isinstance(value, str):
            return {"text": value}
        if not isinstance(value, dict | Wording):
            raise ValueError("a wording is a text, or a mapping with 'text' and 'stances'")
        return value

    # Runs only when `stances` is written (defaults are not validated): an empty `stances:` is a
    # slip, not a way of saying "every target".
    @field_validator("stances")
    @classmethod
    def _not_empty(cls, stances: list[str] | None) -> list[str] | None:
        if not stances:
            raise ValueError(
                "'stances' is empty: list at least one stance, or leave it out for every target"
            )
        return stances

    def applies_to(self, stance: str | None) -> bool:
        return self.stances is None or (stance is not None and stance in self.stances)


class Ask(Model):
    """A pre-filled message a supporter sends to a target; several wordings per language."""

    id: Id
    wordings: dict[Language, list[Wording]]
    platforms: list[AskPlatform] | None = None

    @model_validator(mode="after")
    def _has_wordings(self) -> Ask:
        for language, wordings in self.wordings.items():
            if not wordings:
                raise ValueError(f"'wordings.{language}' needs at least one wording")
        return self

    def wordings_for(self, language: str, stance: str | None) -> list[int]:
        """The numbers (1-based positions in the whole `language` list, so stable identities
        for links and reports) of the wordings that apply to a target of `stance`."""
        return [
            number
            for number, wording in enumerate(self.wordings.get(language, []), start=1)
            if wording.applies_to(stance)
        ]


class PerPlatform(Model):
    """Handles per network where the bot amplifies (X usernames, Bluesky handles or DIDs,
    Mastodon addresses)."""

    x: list[XHandle] = []
    bluesky: list[BlueskyHandle] = []
    mastodon: list[MastodonHandle] = []


AmplifyAction = Literal["repost", "like", "quote"]


class Amplify(Model):
    """Finding supporters' posts about the campaign and amplifying them (docs/campaigns.md)."""

    # Where to look and amplify. X is off unless listed: every post X returns is billed.
    platforms: list[AmplifyPlatform] = Field(default=["bluesky"], min_length=1)
    # What makes a post about the campaign; None: the campaign's own hashtags.
    hashtags: list[Hashtag] | None = None
    # Link ids from `links:` or full URLs; posts linking to them match.
    links: list[NonEmpty] = []
    # Who qualifies: these accounts, plus the supporters' handles unless `supporters: false`.
    accounts: PerPlatform = PerPlatform()
    supporters: bool = True
    # True: anyone's post with the hashtag or link qualifies, not only the allowlist.
    anyone: bool = False
    # Never amplified, whatever else matches.
    blocklist: PerPlatform = PerPlatform()
    # Also read the allowlisted Bluesky and Mastodon accounts' own feeds (finds posts search
    # misses).
    watch_feeds: bool = True
    action: AmplifyAction = "repost"
    # For `action: quote`: the bot's words above the quoted post, per language (a template).
    quote: LangText | None = None
    # True: every candidate waits in `kindling queue` for `kindling approve` or `reject`.
    approval: bool = False
    min_spacing_minutes: int = Field(30, ge=0, le=1440)
    daily_cap: int = Field(5, ge=0, le=500)  # amplifications a day on each platform
    # Posts declaring another language are left alone; None: the campaign's languages.
    languages: list[Language] | None = None
    # Replies are left alone unless this is true; replies to a target never qualify.
    replies: bool = False
    max_age_hours: int = Field(48, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _quote_needs_words(self) -> Amplify:
        if self.action == "quote" and not self.quote:
            raise ValueError("'action: quote' needs 'quote' (the bot's words, per language)")
        return self


Colour = Annotated[
    str, AfterValidator(_matches(r"#[0-9A-Fa-f]{6}", "a colour written #rrggbb (e.g. #1d3557)"))
]
CardFont = Literal["open-sans"]
CardLayout = Literal["left", "centred"]
CardFooter = Literal["hashtag", "link", "both", "none"]


class Cards(Model):
    """The look of the quote cards made from the quote pools (bot/cards/, docs/campaigns.md)."""

    background: Colour = "#1d3557"
    text: Colour = "#ffffff"
    # The quotation mark, the rule under the quote and the footer.
    accent: Colour = "#f4a261"
    # A PNG, JPEG or WebP inside the campaign's folder, drawn in the bottom corner.
    logo: NonEmpty | None = None
    font: CardFont = "open-sans"
    layout: CardLayout = "left"
    # What the footer shows: the first hashtag, the first link (without https://), or both.
    footer: CardFooter = "both"


class Listen(Model):
    """Reading the targets' own public posts for responses to the campaign (docs/campaigns.md).
    Bluesky and Mastodon feeds are free; X bills every post read, so it is off unless `x: true`."""

    enabled: bool = True
    x: bool = False
    # The action page marks a target who answered, linking their first response (not dismissed).
    show_answered: bool = False


class Campaign(Model):
    id: Id
    name: LangText
    languages: list[Language] = Field(min_length=1)
    timezone: Timezone = "Europe/London"
    active: Window
    quiet_hours: QuietHours | None = None
    # Least time between two posts of this campaign on one platform; later ones move back.
    min_spacing_minutes: int = Field(0, ge=0, le=1440)
    # Most this campaign may spend on X per calendar month (USD); none: only the global budget.
    x_budget_usd: float | None = Field(None, ge=0)
    platforms: list[PostPlatform] = Field(default=["x", "bluesky"], min_length=1)
    ask_platforms: list[AskPlatform] = ["x", "bluesky", "mastodon", "email"]
    links: dict[Id, Url] = {}
    hashtags: list[Hashtag] = []
    summary: LangText | None = None
    requests: list[LangText] = []
    messages: list[Message] = []
    quote_pools: list[QuotePool] = []
    supporters: list[Supporter] = []
    targets: list[Target] = []
    target_files: list[NonEmpty] = []
    asks: list[Ask] = []
    amplify: Amplify | None = None
    cards: Cards = Cards()
    listen: Listen = Listen()

    @property
    def primary_language(self) -> str:
        return self.languages[0]

    def quote_pool(self, pool_id: str) -> QuotePool:
        return next(pool for pool in self.quote_pools if pool.id == pool_id)
