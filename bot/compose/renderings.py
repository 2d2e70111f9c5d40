"""Every post and every ask of a campaign, rendered and counted the way each platform counts.

`kindling check` reports the renderings that fail or break a limit; `kindling preview` shows
them all. Posts: every message x quote (if it rotates a pool) x language x platform. Asks: every
ask x wording x language x target x platform where the target has a handle there and the wording
applies to the target's stance.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.campaign.loader import LoadedCampaign
from bot.campaign.model import Ask, Campaign, Message, Quote, Target
from bot.compose.lengths import Count, count
from bot.compose.templates import INLINE_PREFIX, TemplateProblem, Templates
from bot.problems import Problem, display_path


@dataclass(frozen=True)
class Rendering:
    kind: str  # "post" or "ask"
    id: str
    platform: str
    language: str
    text: str
    count: Count
    quote: str | None = None
    target: str | None = None
    wording: int | None = None  # 1-based, for asks

    @property
    def ok(self) -> bool:
        return self.count.ok

    def label(self) -> str:
        parts = [f"{self.kind} '{self.id}'"]
        if self.wording is not None:
            parts.append(f"wording {self.wording}")
        parts.append(f"({self.language})")
        if self.quote:
            parts.append(f"with quote '{self.quote}'")
        if self.target:
            parts.append(f"for target '{self.target}'")
        parts.append(f"on {self.platform}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "platform": self.platform,
            "language": self.language,
            "text": self.text,
            "length": self.count.length,
            "limit": self.count.limit,
            "unit": self.count.unit,
            "ok": self.ok,
            "quote": self.quote,
            "target": self.target,
            "wording": self.wording,
        }


def mention(target: Target, platform: str) -> str:
    """How the target is addressed in text on `platform` ('' where there is no handle)."""
    handle = getattr(target.handles, platform)
    if not handle or platform == "email":
        return ""
    if platform == "bluesky" and handle.startswith("did:"):
        return ""
    return f"@{handle}"


def wording_path(language: str, number: int) -> tuple[str | int, ...]:
    """Where the text of wording `number` (1-based) of `language` is written in its ask. For a
    wording written as a plain string there is no `text` key, and the location falls back to
    the string itself."""
    return ("wordings", language, number - 1, "text")


def default_link(campaign: Campaign, message: Message | None = None) -> str:
    if message is not None and message.link:
        return campaign.links.get(message.link, "")
    return next(iter(campaign.links.values()), "")


class _Renderer:
    def __init__(
        self,
        loaded: LoadedCampaign,
        templates: Templates,
        post_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.post_limits = dict(post_limits or {})  # the bot's own posts: platform -> limit
        self.loaded = loaded
        self.campaign = loaded.campaign
        self.templates = templates
        self.problems: list[Problem] = []
        self._reported: set[tuple[str, str]] = set()

    def source(
        self,
        entry: Message | Ask,
        path: tuple,
        inline: str | None,
        template: str | None,
        language: str,
    ) -> str | None:
        """The template name to render for `entry` in `language`."""
        if inline is not None:
            file, line, col = self.loaded.where(entry, path)
            return self.templates.inline(f"{file}:{line}:{col}", inline)
        assert template is not None
        found = self.templates.file_for(template, language)
        return found.name if found else None  # a missing template is reported by the checks

    def render(self, name: str, entry: Message | Ask, context: dict[str, Any]) -> str | None:
        try:
            return self.templates.render(name, context)
        except TemplateProblem as problem:
            key = (name, problem.message)
            if key not in self._reported:
                self._reported.add(key)
                self.problems.append(self._locate(problem, entry))
            return None

    def _locate(self, problem: TemplateProblem, entry: Message | Ask) -> Problem:
        kind = "message" if isinstance(entry, Message) else "ask"
        file, line, col = self.loaded.where(entry)
        used_by = f"{kind} '{entry.id}' at {file}:{line}:{col}"
        if problem.template.startswith(INLINE_PREFIX):
            origin = problem.template.removeprefix(INLINE_PREFIX)
            path, yaml_line, yaml_col = origin.rsplit(":", 2)
            start = (int(yaml_line), int(yaml_col))
            message = f"{problem.message} (in {kind} '{entry.id}')"
            if problem.expression is not None:
                found = self.loaded.find_written(
                    entry, start, problem.expression, problem.occurrence
                )
                if found is not None:
                    return Problem(path, *found, message)
            offset = (problem.line or 1) - 1
            return Problem(path, start[0] + offset, start[1] if not offset else 1, message)
        template_path = display_path(self.templates.directory / problem.template)
        return Problem(
            template_path,
            problem.line or 1,
            problem.col or 1,
            f"{problem.message} (used by {used_by})",
        )

    def base_context(self, language: str, platform: str) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "language": language,
            "platform": platform,
            "links": self.campaign.links,
            "hashtags": self.campaign.hashtags,
            "link": default_link(self.campaign),
        }

    def posts(self) -> Iterator[Rendering]:
        for message in self.campaign.messages:
            quotes: list[Quote | None] = [None]
            if message.quote_pool:
                pool = next(
                    (p for p in self.campaign.quote_pools if p.id == message.quote_pool), None
                )
                if pool is None:
                    continue
                quotes = list(pool.quotes)
            for language in self.campaign.languages:
                inline = message.text.get(language) if message.text else None
                if message.text is not None and inline is None:
                    continue  # missing language: reported by the checks
                name = self.source(message, ("text", language), inline, message.template, language)
                if name is None:
                    continue
                for platform in message.platforms or self.campaign.platforms:
                    context = self.post_context(message, language, platform)
                    for quote in quotes:
                        text = self.render(name, message, {**context, "quote": quote})
                        if text is None:
                            break
                        quote_id = quote.id if quote else None
                        yield Rendering(
                            "post",
                            message.id,
                            platform,
                            language,
                            text,
                            self._post_count(platform, text),
                            quote=quote_id,
                        )
                        for index, reply in enumerate(message.thread):
                            if language not in reply:
                                continue
                            reply_name = self.source(
                                message,
                                ("thread", index, language),
                                reply[language],
                                None,
                                language,
                            )
                            assert reply_name is not None
                            reply_text = self.render(
                                reply_name, message, {**context, "quote": quote}
                            )
                            if reply_text is not None:
                                yield Rendering(
                                    "post",
                                    f"{message.id}#{index + 1}",
                                    platform,
                                    language,
                                    reply_text,
                                    self._post_count(platform, reply_text),
                                    quote=quote_id,
                                )

    def _post_count(self, platform: str, text: str) -> Count:
        counted = count(platform, text)
        limit = self.post_limits.get(platform)
        return counted if limit is None else replace(counted, limit=limit)

    def post_context(
        self, message: Message, language: str, platform: str, slot: datetime | None = None
    ) -> dict[str, Any]:
        context = self.base_context(language, platform)
        context.update(
            message=message,
            link=default_link(self.campaign, message),
            hashtags=message.hashtags or self.campaign.hashtags,
            # The slot's local time; `check` and `preview` show the campaign's first moment.
            slot=slot or self.campaign.active.start_local(),
        )
        return context

    def asks(self) -> Iterator[Rendering]:
        for ask in self.campaign.asks:
            platforms = ask.platforms or self.campaign.ask_platforms
            for language in self.campaign.languages:
                for index, wording in enumerate(ask.wordings.get(language, []), start=1):
                    name = self.source(
                        ask, wording_path(language, index), wording.text, None, language
                    )
                    assert name is not None
                    for platform in platforms:
                        context = {**self.base_context(language, platform), "ask": ask}
                        for target in self.campaign.targets:
                            if not getattr(target.handles, platform):
                                continue
                            if not wording.applies_to(target.stance):
                                continue
                            text = self.render(
                                name,
                                ask,
                                {**context, "target": target, "handle": mention(target, platform)},
                            )
                            if text is None:
                                break
                            yield Rendering(
                                "ask",
                                ask.id,
                                platform,
                                language,
                                text,
                                count(platform, text),
                                target=target.id,
                                wording=index,
                            )


class PostRenderer:
    """Renders the text (and thread) of one message for one slot; used when a slot is planned."""

    def __init__(self, loaded: LoadedCampaign, templates: Templates) -> None:
        self._renderer = _Renderer(loaded, templates)
        self.campaign = loaded.campaign
        self.loaded = loaded
        self.templates = templates

    def render(
        self,
        message_id: str,
        language: str,
        platform: str,
        quote_id: str | None,
        slot: datetime | None = None,
    ) -> tuple[str, list[str]]:
        """(text, thread reply texts). Raises ValueError if it cannot be rendered."""
        renderer = self._renderer
        message = next(m for m in self.campaign.messages if m.id == message_id)
        quote = None
        if quote_id is not None:
            quote = next(q for p in self.campaign.quote_pools for q in p.quotes if q.id == quote_id)
        inline = message.text.get(language) if message.text else None
        name = renderer.source(message, ("text", language), inline, message.template, language)
        context = {**renderer.post_context(message, language, platform, slot), "quote": quote}
        text = renderer.render(name, message, context) if name else None
        replies = []
        for index, reply in enumerate(message.thread):
            reply_name = renderer.source(
                message, ("thread", index, language), reply.get(language, ""), None, language
            )
            replies.append(renderer.render(reply_name, message, context) if reply_name else None)
        if text is None or None in replies:
            problems = "; ".join(str(p) for p in renderer.problems) or "template not found"
            raise ValueError(
                f"cannot render message '{message_id}' ({language}, {platform}): {problems}"
            )
        return text, [r for r in replies if r is not None]


def render_campaign(
    loaded: LoadedCampaign,
    templates: Templates,
    post_limits: Mapping[str, int] | None = None,
) -> tuple[list[Rendering], list[Problem]]:
    """All renderings, plus located problems for template errors and texts over a limit
    (`post_limits`: the bot's own posts' limits where they differ by account, e.g. Mastodon)."""
    renderer = _Renderer(loaded, templates, post_limits)
    renderings = [*renderer.posts(), *renderer.asks()]
    problems = renderer.problems
    for rendering in renderings:
        if not rendering.ok:
            problems.append(_over_limit(loaded, rendering))
    return renderings, problems


def render_asks(
    loaded: LoadedCampaign, templates: Templates
) -> tuple[list[Rendering], list[Problem]]:
    """The ask renderings only (as `render_campaign` makes them), with their located problems."""
    renderer = _Renderer(loaded, templates)
    renderings = list(renderer.asks())
    problems = renderer.problems + [_over_limit(loaded, r) for r in renderings if not r.ok]
    return renderings, problems


def _over_limit(loaded: LoadedCampaign, rendering: Rendering) -> Problem:
    campaign = loaded.campaign
    if rendering.kind == "post":
        message_id, _, reply = rendering.id.partition("#")
        message = next(m for m in campaign.messages if m.id == message_id)
        entry: object = message
        if reply:
            path: tuple = ("thread", int(reply) - 1, rendering.language)
        else:
            path = ("text", rendering.language) if message.text else ("template",)
    else:
        entry = next(a for a in campaign.asks if a.id == rendering.id)
        path = wording_path(rendering.language, rendering.wording or 1)
    counted = rendering.count
    detail = counted.note or f"{counted.length} {counted.unit}, over the limit of {counted.limit}"
    return loaded.problem(entry, path, f"{rendering.label()} is too long: {detail}")


def gaps(campaign: Campaign) -> list[tuple[Target, str]]:
    """(target, platform) pairs where the campaign asks on a platform the target has no handle on."""
    platforms = {p for ask in campaign.asks for p in (ask.platforms or campaign.ask_platforms)}
    return [
        (target, platform)
        for target in campaign.targets
        for platform in sorted(platforms)
        if not getattr(target.handles, platform)
    ]
