"""config.toml + environment secrets -> one immutable Settings object.

Every setting has a default and a description (tests check each is documented in config.toml).
Secrets are read only from the environment; a secret written in config.toml is an error that
names the key and the variable to use, never the value.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from bot.problems import Problem, ProblemsFound, display_path
from bot.timezones import Timezone

ENV_PREFIX = "KINDLING_"
# Secrets: environment variable -> what it is. Never read from config.toml, never logged.
SECRET_VARIABLES = {
    "KINDLING_X_API_KEY": "X app consumer key (OAuth 1.0a)",
    "KINDLING_X_API_SECRET": "X app consumer secret (OAuth 1.0a)",
    "KINDLING_X_ACCESS_TOKEN": "X user access token of the campaign account",
    "KINDLING_X_ACCESS_TOKEN_SECRET": "X user access token secret of the campaign account",
    "KINDLING_BLUESKY_APP_PASSWORD": "Bluesky app password of the campaign account",
    "KINDLING_MASTODON_ACCESS_TOKEN": "Mastodon access token of the campaign account",
    "KINDLING_SMTP_PASSWORD": "password of the SMTP account that sends alert emails",
    "KINDLING_ALERTS_WEBHOOK_URL": "alert webhook URL, when it holds a token (Slack's does)",
}
# Settings the environment overrides, like KINDLING_DATABASE_URL: variable -> (section, key).
ENVIRONMENT_SETTINGS = {
    "KINDLING_X_API_BASE_URL": ("x", "api_base_url"),
    "KINDLING_BLUESKY_SERVICE_URL": ("bluesky", "service_url"),
    "KINDLING_MASTODON_INSTANCE_URL": ("mastodon", "instance_url"),
}
_SECRET_KEY = re.compile(r"(secret|password|token|api_key|apikey|private_key|credential)", re.I)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsSettings(Section):
    campaigns: str = Field(default="campaigns", description="Directory of campaign YAML files.")
    templates: str = Field(default="templates", description="Directory of Jinja2 templates.")
    data: str = Field(
        default="data", description="Directory for the SQLite database and session files."
    )
    env_file: str = Field(
        default="kindling.env",
        description="Environment file `kindling login` writes the credentials to (mode 0600) "
        "and the commands read (the environment's variables win); `--env-file` overrides it.",
    )


class DatabaseSettings(Section):
    url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means a SQLite file kindling.sqlite3 in the data "
        "directory. KINDLING_DATABASE_URL overrides it.",
    )
    busy_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How long a SQLite write waits for another process's lock before the "
        "command stops with an error saying so.",
    )


class GeneralSettings(Section):
    timezone: Timezone = Field(
        default="Europe/London", description="Time zone of campaigns that name none."
    )
    dry_run: bool = Field(
        default=False, description="Record what would be posted instead of posting."
    )


class XPrices(Section):
    post: float = Field(
        default=0.015, ge=0, description="USD charged for creating a post without a link."
    )
    post_with_link: float = Field(
        default=0.20, ge=0, description="USD charged for creating a post with a link."
    )
    read: float = Field(
        default=0.005, ge=0, description="USD charged per post read (search, lookup)."
    )
    own_read: float = Field(
        default=0.001, ge=0, description="USD charged per read of the account's own posts."
    )
    user_read: float = Field(
        default=0.010,
        ge=0,
        description="USD charged per account a user lookup returns (`check --online --x`).",
    )


class XSettings(Section):
    api_base_url: str = Field(
        default="https://api.x.com",
        description="X API v2 base URL; KINDLING_X_API_BASE_URL overrides it.",
    )
    daily_cap: int = Field(default=12, ge=0, description="Most posts the bot makes on X per day.")
    monthly_budget_usd: float = Field(
        default=25.0,
        ge=0,
        description="Stop spending on X beyond this many USD per calendar month.",
    )
    timeout_seconds: float = Field(default=8.0, gt=0, description="Timeout for one X API call.")
    prices: XPrices = Field(default=XPrices(), description="X API price table (USD per call).")


class BlueskySettings(Section):
    service_url: str = Field(
        default="https://bsky.social",
        description="Bluesky PDS (service) URL; a self-hosted PDS works. "
        "KINDLING_BLUESKY_SERVICE_URL overrides it.",
    )
    handle: str = Field(
        default="", description="Handle of the campaign account; KINDLING_BLUESKY_HANDLE overrides."
    )
    web_url: str = Field(
        default="",
        description="Web address of one of the account's posts, as the daemon records it and "
        "`kindling status` shows it: a "
        "template with {handle}, {did} and {rkey}. Empty: bsky.app links on Bluesky's own "
        "service, the post's at:// URI on a self-hosted PDS.",
    )

    @field_validator("web_url")
    @classmethod
    def _template(cls, web_url: str) -> str:
        if not web_url:
            return web_url
        if not re.match(r"https?://[^/\s]+", web_url):
            raise ValueError("must be an http:// or https:// URL template")
        try:
            web_url.format(handle="h", did="d", rkey="r")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "may name only {handle}, {did} and {rkey} (write {{ and }} for braces)"
            ) from None
        if "{rkey}" not in web_url:
            raise ValueError("must name {rkey}, the post's record key")
        return web_url

    daily_cap: int = Field(
        default=24, ge=0, description="Most posts the bot makes on Bluesky per day."
    )
    timeout_seconds: float = Field(default=8.0, gt=0, description="Timeout for one Bluesky call.")


class MastodonSettings(Section):
    instance_url: str = Field(
        default="",
        description="Base URL of the campaign account's Mastodon instance; "
        "KINDLING_MASTODON_INSTANCE_URL overrides it.",
    )
    daily_cap: int = Field(
        default=24, ge=0, description="Most posts the bot makes on Mastodon per day."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout for one Mastodon call.")
    visibility: Literal["public", "unlisted"] = Field(
        default="public", description="Visibility of the bot's statuses."
    )
    max_characters: int = Field(
        default=500,
        ge=1,
        description="The instance's status length limit; links count as 23 characters each.",
    )


class EngagementSettings(Section):
    cycle_seconds: int = Field(
        default=60, ge=5, description="How often the daemon runs an engagement polling cycle."
    )
    responses_every_minutes: int = Field(
        default=5,
        ge=1,
        description="How often mentions, replies and quotes are read on each platform.",
    )
    listen_every_minutes: int = Field(
        default=15,
        ge=1,
        description="How often the targets' own posts are read for responses to campaigns.",
    )
    listen_pages_per_pass: int = Field(
        default=3,
        ge=1,
        le=50,
        description="Most pages of one target's feed a listening pass reads; the rest waits.",
    )
    listen_x_reads_per_day: int = Field(
        default=100,
        ge=0,
        description="Most X posts listening may read a day (UTC), over every campaign.",
    )
    metrics_cadence: list[tuple[float, float]] = Field(
        default=[(6, 15), (48, 60), (720, 1440)],
        min_length=1,
        description="Metrics snapshots by a post's age: [until_hours, every_minutes] stages, then stop.",
    )
    metrics_cadence_mode: Literal["fixed", "adaptive"] = Field(
        default="adaptive",
        description="'fixed': every post read on metrics_cadence. 'adaptive': never more often, "
        "less once its counts stop moving, not at all once still for "
        "metrics_stop_when_still_hours (a forecast from metrics_cadence is then a ceiling).",
    )
    metrics_longest_wait_hours: float = Field(
        default=96,
        gt=0,
        description="Adaptive cadence: the longest wait between two reads of a post whose counts "
        "are still (never shorter than metrics_cadence's interval).",
    )
    metrics_stop_when_still_hours: float = Field(
        default=504,
        gt=0,
        description="Adaptive cadence: a post whose counts have not moved for this long is not "
        "read again.",
    )

    @field_validator("metrics_cadence")
    @classmethod
    def _increasing(cls, stages: list[tuple[float, float]]) -> list[tuple[float, float]]:
        hours = [until for until, _ in stages]
        if (
            hours != sorted(hours)
            or len(set(hours)) != len(hours)
            or any(h <= 0 or m <= 0 for h, m in stages)
        ):
            raise ValueError(
                "stages must be [until_hours, every_minutes] pairs with increasing, positive hours"
            )
        return stages


class AmplifySettings(Section):
    discovery_every_minutes: int = Field(
        default=10, ge=1, description="How often the daemon looks for supporters' posts to amplify."
    )
    pages_per_pass: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Most result pages one discovery pass reads per search or feed.",
    )
    x_reads_per_day: int = Field(
        default=100,
        ge=0,
        description="Most X posts discovery may read a day (X bills each; campaigns must list x).",
    )


class WebSettings(Section):
    keep_alive_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds `kindling serve` keeps an idle connection open, before its first "
        "request and between requests.",
    )
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a client has to send a whole request once it has begun one; then "
        "408 and the connection is closed.",
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Most open connections; one more is answered 503 and closed. Kept below "
        "the open-file limit (kindling serve raises its soft limit to fit, if it can).",
    )
    max_request_line_bytes: int = Field(
        default=8192, ge=256, description="Longest request target (URL) accepted; longer: 414."
    )
    max_header_bytes: int = Field(
        default=32768,
        ge=1024,
        description="Most bytes of request header fields accepted; more: 431.",
    )
    healthz_details: bool = Field(
        default=False,
        description="Show /healthz's details (campaign ids, counts) to every client, not only "
        "to clients on this machine (loopback).",
    )
    hsts_max_age_seconds: int = Field(
        default=31536000,
        ge=0,
        description="max-age of Strict-Transport-Security, sent on answers over HTTPS (or from "
        "a trusted proxy saying X-Forwarded-Proto: https); 0: never sent.",
    )


class CheckSettings(Section):
    webfinger_url: str = Field(
        default="https://{server}/.well-known/webfinger",
        description="Where `kindling check --online` asks whether a Mastodon address exists; "
        "{server} is the address's server.",
    )
    timeout_seconds: float = Field(
        default=8.0, gt=0, le=120, description="Timeout for one lookup of `check --online`."
    )


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )
    format: Literal["text", "json"] = Field(
        default="text", description="Log line format: text or json."
    )
    file: str = Field(default="", description="Log file; empty means standard error.")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class LimitsSettings(Section):
    """What a campaign file (written by a volunteer, arriving as a pull request) may make Kindling
    read and compute. Each exceeded limit is a located problem, never a stall or a traceback."""

    campaign_file_bytes: int = Field(
        default=1_000_000,
        ge=1,
        description="Largest campaign YAML file or template file, in bytes; refused before parsing.",
    )
    targets_file_bytes: int = Field(
        default=2_000_000,
        ge=1,
        description="Largest targets CSV file, in bytes; refused before parsing.",
    )
    rendered_chars: int = Field(
        default=20_000,
        ge=1,
        description="Longest text a template may produce (and any string it builds on the way).",
    )
    render_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Most time the rendering of one text may take.",
    )
    campaign_render_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Most time all renderings of one campaign may take (check and each reload).",
    )
    template_depth: int = Field(
        default=20,
        ge=1,
        description="Deepest nesting of calls in a template (a macro calling itself, loop()).",
    )
    loop_iterations: int = Field(
        default=10_000,
        ge=1,
        description="Most loop iterations in the rendering of one text; also the largest range().",
    )
    repeat_chars: int = Field(
        default=1_000,
        ge=1,
        description="Largest result of repetition ('-' * n) and largest width or padding a "
        "template may ask for (center, indent, format widths and precisions).",
    )
    strftime_chars: int = Field(
        default=100,
        ge=1,
        description="Longest date format a template may pass to strftime.",
    )


class DaemonSettings(Section):
    heartbeat_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds between the daemon's heartbeats (the row `kindling status` reads); "
        "under systemd's watchdog, at most half of WatchdogSec.",
    )
    missed_heartbeats: int = Field(
        default=3,
        ge=1,
        description="`kindling status` says NOT RUNNING once this many heartbeats are missed.",
    )


class DoctorSettings(Section):
    clock_skew_seconds: float = Field(
        default=30.0,
        gt=0,
        description="`kindling doctor` warns when this machine's clock and a platform's differ "
        "by more than this many seconds.",
    )
    min_free_disk_mb: int = Field(
        default=500,
        ge=0,
        description="`kindling doctor` fails when the data directory's disk has less free space "
        "than this many megabytes.",
    )


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class AlertEmailSettings(Section):
    host: str = Field(
        default="", description="SMTP server that sends alert emails; empty: no alert emails."
    )
    port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (usually port 587), tls (implicit TLS, usually 465), or none "
        "(only for a relay on this machine).",
    )
    username: str = Field(
        default="",
        description="SMTP login; empty: no login. The password only from KINDLING_SMTP_PASSWORD.",
    )
    from_address: str = Field(default="", description="The alert emails' From address.")
    to: list[str] = Field(default=[], description="Who receives the alert emails.")
    timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, description="Most seconds one SMTP delivery may take."
    )

    @model_validator(mode="after")
    def _addressed(self) -> AlertEmailSettings:
        if self.host and (not self.from_address or not self.to):
            raise ValueError("alert email needs from_address and at least one address in to")
        if self.username and self.security == "none" and self.host not in _LOOPBACK:
            raise ValueError(
                "a login over an unencrypted connection would send the password in the clear: "
                'use security = "starttls" or "tls"'
            )
        return self


class AlertWebhookSettings(Section):
    url: str = Field(
        default="",
        description="URL that receives each alert as JSON (POST); empty: none. "
        "KINDLING_ALERTS_WEBHOOK_URL overrides it.",
    )
    format: Literal["plain", "slack", "matrix"] = Field(
        default="plain", description="The JSON body's shape: plain, slack or matrix (README)."
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Most seconds one webhook call may take."
    )

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if url and not re.match(r"https?://[^/\s]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return url


class AlertsSettings(Section):
    quiet_period_minutes: int = Field(
        default=1440,
        ge=0,
        description="An alert with the same cause is not sent again within this many minutes.",
    )
    failed_posts_in_a_row: int = Field(
        default=3, ge=1, description="Alert when this many posts in a row fail on one platform."
    )
    retry_first_seconds: float = Field(
        default=30.0, gt=0, description="First wait before sending a failed alert again."
    )
    retry_max_seconds: float = Field(
        default=1800.0, gt=0, description="Longest wait between attempts (the wait doubles)."
    )
    retry_attempts: int = Field(
        default=8, ge=1, description="Attempts per alert and channel before it is given up."
    )
    email: AlertEmailSettings = Field(
        default=AlertEmailSettings(), description="Alerts by email (SMTP)."
    )
    webhook: AlertWebhookSettings = Field(
        default=AlertWebhookSettings(), description="Alerts to a webhook (Slack, Matrix, other)."
    )


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ReportSettings(Section):
    weekly_email: bool = Field(
        default=False,
        description="`kindling run` emails each campaign's report once a week (SMTP of "
        "[alerts.email]).",
    )
    weekly_day: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = Field(default="monday", description="The day the weekly report is sent.")
    weekly_hour: int = Field(
        default=8, ge=0, le=23, description="The hour it is sent, in the campaign's time zone."
    )
    email_to: list[str] = Field(
        default=[],
        description="Who receives the report by email; empty: the alert emails' recipients.",
    )


class Settings(Section):
    paths: PathsSettings = Field(default=PathsSettings(), description="Where files live.")
    database: DatabaseSettings = Field(default=DatabaseSettings(), description="The database.")
    general: GeneralSettings = Field(default=GeneralSettings(), description="General behaviour.")
    x: XSettings = Field(default=XSettings(), description="X (Twitter) account and API.")
    bluesky: BlueskySettings = Field(
        default=BlueskySettings(), description="Bluesky account and PDS."
    )
    mastodon: MastodonSettings = Field(
        default=MastodonSettings(), description="Mastodon account and instance."
    )
    engagement: EngagementSettings = Field(
        default=EngagementSettings(), description="Metrics and responses polling."
    )
    amplify: AmplifySettings = Field(
        default=AmplifySettings(), description="Finding supporters' posts to amplify."
    )
    logging: LoggingSettings = Field(default=LoggingSettings(), description="Logging.")
    limits: LimitsSettings = Field(
        default=LimitsSettings(), description="What campaign files may make Kindling do."
    )
    web: WebSettings = Field(default=WebSettings(), description="The action pages' web server.")
    check: CheckSettings = Field(
        default=CheckSettings(), description="`kindling check --online`: looking handles up."
    )
    daemon: DaemonSettings = Field(
        default=DaemonSettings(), description="`kindling run`'s heartbeat and liveness."
    )
    alerts: AlertsSettings = Field(
        default=AlertsSettings(), description="Telling the organiser about trouble."
    )
    doctor: DoctorSettings = Field(
        default=DoctorSettings(), description="`kindling doctor`: what it accepts."
    )
    report: ReportSettings = Field(
        default=ReportSettings(), description="The report by email, weekly and on demand."
    )

    @model_validator(mode="after")
    def _report_mail(self) -> Settings:
        if self.report.weekly_email and not self.alerts.email.host:
            raise ValueError(
                "[report] weekly_email needs an SMTP server: set host, from_address and to in "
                "[alerts.email]"
            )
        return self


def own_post_limits(settings: Settings) -> dict[str, int]:
    """Length limits of the bot's own posts that depend on its account's server: Mastodon's
    instance may allow more (or fewer) than 500 characters. Asks keep the default limit: a
    supporter's instance is not known."""
    return {"mastodon": settings.mastodon.max_characters}


@dataclass(frozen=True)
class Secrets:
    """Credentials from the environment. repr() shows which are set, never their values."""

    values: dict[str, SecretStr]

    def get(self, variable: str) -> str | None:
        secret = self.values.get(variable)
        return secret.get_secret_value() if secret else None

    def __repr__(self) -> str:
        return f"Secrets(set={sorted(self.values)})"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        environ = dict(os.environ if environ is None else environ)
        return cls(
            {name: SecretStr(environ[name]) for name in SECRET_VARIABLES if environ.get(name)}
        )


@dataclass(frozen=True)
class DatabaseTarget:
    """The database settings the store needs (bot/store/location.py's DatabaseTarget)."""

    url: str
    busy_timeout_seconds: float
    creatable_directory: Path | None


@dataclass(frozen=True)
class Config:
    """The settings, the directory relative paths are resolved against, and the secrets.
    `from_file` holds what the credentials file ([paths] env_file) sets, which the environment
    overrides (`env`)."""

    settings: Settings
    root: Path
    secrets: Secrets
    source: Path | None = None
    from_file: Mapping[str, str] = dataclass_field(default_factory=dict, repr=False)

    def env(self, variable: str) -> str | None:
        """The variable from the environment, else from the credentials file; None if unset."""
        return os.environ.get(variable) or self.from_file.get(variable) or None

    def with_env_file(self, values: Mapping[str, str]) -> Config:
        """These settings with the credentials file's variables under the environment's."""
        environ = {**values, **os.environ}
        return replace(
            self,
            settings=environment_settings(self.settings, environ),
            secrets=Secrets.from_environment(environ),
            from_file=dict(values),
        )

    @property
    def env_file(self) -> Path:
        return self.path(self.settings.paths.env_file)

    def path(self, relative: str) -> Path:
        return (self.root / relative) if not Path(relative).is_absolute() else Path(relative)

    @property
    def campaigns_dir(self) -> Path:
        return self.path(self.settings.paths.campaigns)

    @property
    def templates_dir(self) -> Path:
        return self.path(self.settings.paths.templates)

    @property
    def data_dir(self) -> Path:
        return self.path(self.settings.paths.data)

    @property
    def database_url(self) -> str:
        override = self.env("KINDLING_DATABASE_URL")
        if override:
            return override
        if self.settings.database.url:
            return self.settings.database.url
        return f"sqlite:///{self.data_dir / 'kindling.sqlite3'}"

    @property
    def database(self) -> DatabaseTarget:
        """What the store is given (bot.store.Store): the URL, the lock wait, and the one
        missing directory it may create, the data directory (a typo in a database path
        elsewhere must not start a new, empty outbox)."""
        return DatabaseTarget(
            self.database_url, self.settings.database.busy_timeout_seconds, self.data_dir
        )

    @property
    def bluesky_handle(self) -> str:
        return self.env("KINDLING_BLUESKY_HANDLE") or self.settings.bluesky.handle


def environment_settings(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """`settings` with each of ENVIRONMENT_SETTINGS that `environ` sets (non-empty) in place."""
    updates: dict[str, dict[str, str]] = {}
    for variable, (section, key) in ENVIRONMENT_SETTINGS.items():
        if environ.get(variable):
            updates.setdefault(section, {})[key] = environ[variable]
    return settings.model_copy(
        update={
            section: getattr(settings, section).model_copy(update=values)
            for section, values in updates.items()
        }
    )


def load_config(path: Path | None) -> Config:
    """Read `path` (or the defaults when None). Raises ProblemsFound with located problems."""
    secrets = Secrets.from_environment()
    if path is None:
        return Config(environment_settings(Settings(), os.environ), Path.cwd(), secrets)
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ProblemsFound([Problem(display, 1, 1, "config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemsFound([Problem(display, 1, 1, f"cannot read config file: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_error_position(str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(exc))
        raise ProblemsFound(
            [Problem(display, line, col, f"TOML syntax error: {message}")]
        ) from None

    problems = _secret_problems(data, text, display)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems += _settings_problems(exc, text, display)
        settings = None
    if problems:
        raise ProblemsFound(sorted(set(problems)))
    assert settings is not None
    settings = environment_settings(settings, os.environ)
    return Config(settings, path.parent.resolve(), secrets, path)


def _secret_problems(
    data: dict[str, Any], text: str, display: str, table: tuple[str, ...] = ()
) -> list[Problem]:
    problems = []
    for key, value in data.items():
        if isinstance(value, dict):
            problems += _secret_problems(value, text, display, (*table, key))
        elif _SECRET_KEY.search(key) and value not in ("", None):
            variable = ENV_PREFIX + "_".join((*table, key)).upper()
            line, col = _locate_key(text, table, key)
            dotted = ".".join((*table, key))
            problems.append(
                Problem(
                    display,
                    line,
                    col,
                    f"'{dotted}' looks like a secret: secrets must not be written in config.toml "
                    f"(the value is not shown); remove it and set {variable} in the environment",
                )
            )
    return problems


def _settings_problems(exc: ValidationError, text: str, display: str) -> list[Problem]:
    problems = []
    for detail in exc.errors(include_url=False):
        loc = tuple(str(part) for part in detail["loc"])
        table, key = loc[:-1], loc[-1] if loc else ""
        if detail["type"] == "extra_forbidden" and _SECRET_KEY.search(key):
            continue  # reported as a secret, without its value
        line, col = _locate_key(text, table, key)
        dotted = ".".join(loc)
        if detail["type"] == "extra_forbidden":
            known = _known_keys(table)
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = (
                f" (did you mean '{close[0]}'?)"
                if close
                else (f" (known: {', '.join(known)})" if known else "")
            )
            problems.append(Problem(display, line, col, f"unknown setting '{dotted}'{hint}"))
        else:
            message = detail["msg"].removeprefix("Value error, ")
            if dotted:  # a setting's problem; one between sections names them itself
                message = f"'{dotted}': {message[0].lower()}{message[1:]}"
            problems.append(Problem(display, line, col, message))
    return problems


def _known_keys(table: tuple[str, ...]) -> list[str]:
    model: Any = Settings
    for part in table:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
    return (
        list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
    )


def _locate_key(text: str, table: tuple[str, ...], key: str) -> tuple[int, int]:
    """Line and column of `key` inside `[table]` (config.toml is flat enough for this)."""
    current: tuple[str, ...] = ()
    header_line = 1
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = tuple(part.strip().strip('"') for part in header.group(1).split("."))
            if current == (*table, key):
                return number, line.index("[") + 1
            if current == table:
                header_line = number
            continue
        match = re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", line)
        if match and current == table:
            return number, line.index(key[0]) + 1
    return header_line, 1


def _toml_error_position(message: str) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def iter_settings(
    model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """(dotted path, field) for every leaf setting; used by the documentation test."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from iter_settings(annotation, (*prefix, name))
        else:
            yield (*prefix, name), field
