"""`kindling check`: config, campaigns, templates and every rendering, all problems in one pass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.campaign.loader import FileLimits, LoadedCampaign, campaign_files, load_campaign
from bot.checks.campaign_rules import check_campaign, stance_notes
from bot.checks.handles import handle_notes
from bot.checks.schedule_notes import at_notes
from bot.compose.renderings import Rendering, gaps, render_campaign
from bot.compose.repeats import repeated_text_notes
from bot.compose.templates import TemplateProblem, Templates
from bot.config import Config, own_post_limits
from bot.problems import Problem, display_path


@dataclass
class CampaignReport:
    file: str
    loaded: LoadedCampaign | None
    renderings: list[Rendering] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Worth a look but not wrong (e.g. a wording for a stance no target has yet).
    notes: list[Problem] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        campaign = self.loaded.campaign if self.loaded else None
        return {
            "file": self.file,
            "id": campaign.id if campaign else None,
            "ok": not self.problems,
            "messages": len(campaign.messages) if campaign else 0,
            "targets": len(campaign.targets) if campaign else 0,
            "asks": len(campaign.asks) if campaign else 0,
            "renderings": len(self.renderings),
            "over_limit": sum(not r.ok for r in self.renderings),
            "gaps": [
                {"target": target.id, "platform": platform}
                for target, platform in (gaps(campaign) if campaign else [])
            ],
            "notes": [note.as_dict() for note in self.notes],
        }


@dataclass
class CheckReport:
    campaigns: list[CampaignReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # not tied to one campaign

    @property
    def all_problems(self) -> list[Problem]:
        found = list(self.problems)
        for report in self.campaigns:
            found += report.problems
        return found

    @property
    def ok(self) -> bool:
        return not self.all_problems


def check_templates(templates: Templates) -> list[Problem]:
    """Every template file compiles (a syntax error is reported even if no campaign uses it)."""
    problems: list[Problem] = []
    if not templates.directory.is_dir():
        return problems
    for path in sorted(templates.directory.rglob("*.j2")):
        name = path.relative_to(templates.directory).as_posix()
        try:
            templates.compile(name)
        except TemplateProblem as problem:
            problems.append(Problem(display_path(path), problem.line or 1, 1, problem.message))
    return problems


def _image_problems(loaded: LoadedCampaign, cache: Path | None, every_card: bool) -> list[Problem]:
    """Pillow and the fonts (about 10 MB) are loaded only for a campaign with images to check:
    an idle daemon whose campaigns post text needs neither."""
    campaign = loaded.campaign
    cards = campaign.quote_pools if every_card else any(m.card for m in campaign.messages)
    if not (cards or campaign.cards.logo or any(m.image for m in campaign.messages)):
        return []
    from bot.checks.image_rules import image_problems

    return image_problems(loaded, cache, cards=bool(cards))


def check_one(
    path: Path,
    templates: Templates,
    default_timezone: str,
    post_limits: Mapping[str, int] | None = None,
    image_cache: Path | None = None,
    *,
    every_card: bool = True,
) -> CampaignReport:
    """Load, check and render one campaign under the limits `templates` carries (file sizes,
    and one deadline for all of the campaign's renderings: limits.campaign_render_seconds).
    Images re-encoded to fit a platform are kept in `image_cache`. `every_card=False` (the
    daemon's reloads) lays out only the cards its posts carry, not every quote's."""
    limits = FileLimits(templates.limits.campaign_file_bytes, templates.limits.targets_file_bytes)
    loaded, problems = load_campaign(path, default_timezone=default_timezone, limits=limits)
    report = CampaignReport(display_path(path), loaded, problems=problems)
    if loaded is None:
        report.problems.sort(key=lambda p: (p.file, p.line, p.col))
        return report
    with templates.campaign_budget():
        report.problems += check_campaign(loaded, templates)
        report.notes = (
            stance_notes(loaded) + repeated_text_notes(loaded, templates) + handle_notes(loaded)
        )
        report.renderings, rendering_problems = render_campaign(loaded, templates, post_limits)
    report.problems += rendering_problems
    report.problems += _image_problems(loaded, image_cache, every_card)
    report.problems.sort(key=lambda p: (p.file, p.line, p.col))
    return report


def image_cache(config: Config) -> Path:
    """Where images re-encoded to fit a platform and drawn cards are kept."""
    return config.data_dir / "cache" / "images"


def run_check(config: Config, paths: list[Path], now: datetime | None = None) -> CheckReport:
    """Check `paths` (default: the campaigns directory); with `now`, also note each `at:` post
    already past or less than a minute away."""
    templates = Templates(config.templates_dir, config.settings.limits)
    report = CheckReport()
    report.problems += check_templates(templates)
    files, missing = campaign_files(paths or [config.campaigns_dir])
    report.problems += missing
    if not files and not report.problems:
        report.problems.append(
            Problem(
                display_path(paths[0] if paths else config.campaigns_dir),
                1,
                1,
                "no campaign files (*.yaml) found",
            )
        )
    for path in files:
        report.campaigns.append(
            check_one(
                path,
                templates,
                config.settings.general.timezone,
                own_post_limits(config.settings),
                image_cache(config),
            )
        )
        loaded = report.campaigns[-1].loaded
        if now is not None and loaded is not None:
            report.campaigns[-1].notes += at_notes(loaded, now)
    return report
