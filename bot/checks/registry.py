"""The campaigns a running daemon uses, reloaded when their files change.

A valid change replaces the campaign; an invalid one is reported with its file:line:col and the
last good version keeps running. A deleted file removes its campaign.

A reload checks each file under the configured limits (bot/config.py, [limits]): file sizes,
rendering time, loops, recursion, sizes of what templates build. So a careless or hostile file
costs a bounded time in the reload job's own thread, and the jobs that publish, which read
only the outbox, go on meanwhile. The new set of campaigns replaces the old in one assignment,
so the other jobs see either the old set or the new one, never one half built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.campaign.loader import LoadedCampaign, campaign_files
from bot.checks.run import CampaignReport, check_one, check_templates
from bot.compose.renderings import PostRenderer
from bot.compose.templates import Templates
from bot.config import Config, own_post_limits
from bot.problems import Problem, display_path, excerpt

log = logging.getLogger("kindling.campaigns")


# (an image's resolved path, platform, cache) -> (its size, mtime_ns, the fitted copy posted
# instead, or None when the campaign's file goes as it is): bot/publish/cards.py. One entry
# per image and platform (a changed image replaces its entry), dropped with its campaign load.
FittedFiles = dict[tuple[Path, str, Path], tuple[int, int, Path | None]]


@dataclass(frozen=True)
class ActiveCampaign:
    loaded: LoadedCampaign
    renderer: PostRenderer
    fitted_images: FittedFiles = field(default_factory=dict, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.loaded.campaign.id


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    if not directory.is_dir():
        return ()
    return tuple(
        sorted(
            (str(p), p.stat().st_mtime_ns, p.stat().st_size)
            for p in directory.rglob("*")
            if p.is_file()
        )
    )


class CampaignRegistry:
    def __init__(self, config: Config, only: list[Path] | None = None) -> None:
        self.config = config
        self.only = only
        self.active: dict[Path, ActiveCampaign] = {}
        self._seen: tuple = ()

    def _state(self) -> tuple:
        return (_fingerprint(self.config.campaigns_dir), _fingerprint(self.config.templates_dir))

    def load(self) -> list[Problem]:
        """Check every campaign; keep the valid ones (and the last good version of invalid ones)."""
        self._seen = self._state()
        templates = Templates(self.config.templates_dir, self.config.settings.limits)
        problems = check_templates(templates)
        files, missing = campaign_files(self.only or [self.config.campaigns_dir])
        problems += missing
        active: dict[Path, ActiveCampaign] = {}
        for path in files:
            report = self._check(path, templates)
            if report.problems or report.loaded is None:
                problems += report.problems
                if path in self.active:
                    active[path] = self.active[path]
                continue
            active[path] = ActiveCampaign(report.loaded, PostRenderer(report.loaded, templates))
        for gone in set(self.active) - set(active):
            log.warning("campaign file %s was removed: its campaign stops", gone)
        self.active = active
        return problems + _duplicate_ids(active)

    def _check(self, path: Path, templates: Templates) -> CampaignReport:
        """check_one, and any failure it did not foresee as a problem of that file: one file
        must not stop the others from loading, nor end the reload job."""
        try:
            settings = self.config.settings
            return check_one(
                path,
                templates,
                settings.general.timezone,
                own_post_limits(settings),
                every_card=False,
            )
        except Exception as exc:
            reason = f"could not be checked: {type(exc).__name__}: {excerpt(exc, 120)}"
            # The traceback is for a developer, at DEBUG: its message may quote the file.
            log.debug("checking campaign file %s failed", path, exc_info=True)
            shown = display_path(path)
            return CampaignReport(shown, None, problems=[Problem(shown, 1, 1, reason)])

    def changed(self) -> bool:
        return self._state() != self._seen

    def reload(self) -> bool:
        """Reload if files changed. True if anything was (re)loaded."""
        if not self.changed():
            return False
        before = {path: campaign.loaded.campaign for path, campaign in self.active.items()}
        problems = self.load()
        for problem in problems:
            log.error("invalid campaign change, keeping the last good version: %s", problem)
        for path, campaign in self.active.items():
            if before.get(path) is not campaign.loaded.campaign:
                log.info("campaign '%s' reloaded from %s", campaign.id, path)
        return True

    def campaigns(self) -> list[ActiveCampaign]:
        active = self.active  # one read: a reload may replace the mapping meanwhile
        return [active[path] for path in sorted(active)]


def _duplicate_ids(active: dict[Path, ActiveCampaign]) -> list[Problem]:
    problems = []
    ids: dict[str, Path] = {}
    for path, campaign in sorted(active.items()):
        if campaign.id in ids:
            problems.append(
                Problem(
                    str(path),
                    1,
                    1,
                    f"campaign id '{campaign.id}' is also used by {ids[campaign.id]}",
                )
            )
        ids.setdefault(campaign.id, path)
    return problems
