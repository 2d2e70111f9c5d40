"""`kindling links`: every pre-filled link of a campaign as CSV, JSON or one static HTML page.

The HTML page needs no server: each button is a direct link to the platform's composer (no
click counting; the action page of `kindling serve` counts clicks). Its only script asks for
the supporter's Mastodon server, once, and keeps it in their browser (localStorage); without
JavaScript the Mastodon text is still there to copy. Campaign data is HTML-escaped everywhere
(Jinja2 autoescape) and never placed inside the script.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from jinja2 import Environment, StrictUndefined

from bot.campaign.loader import find_campaign
from bot.campaign.model import Campaign, Target
from bot.checks.run import check_one
from bot.compose.lengths import count
from bot.compose.links import AskLink, ask_links, mastodon_share_path
from bot.compose.templates import Templates
from bot.config import Config
from bot.problems import ProblemsFound
from bot.spreadsheet import neutralise

FORMATS = ("csv", "json", "html")
FIELDS = (
    "campaign", "target", "target_name", "role", "constituency", "region", "party", "ask",
    "wording", "platform", "language", "text", "url", "token", "length", "limit",
)  # fmt: skip
PLATFORM_NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon", "threads": "Threads"}
# Fixed interface text. Welsh first; any other campaign language falls back to English.
LABELS: dict[str, dict[str, str]] = {
    "cy": {
        "language": "Cymraeg",
        "intro": "Dewiswch wleidydd, yna agorwch neges barod. Gallwch ei newid cyn ei hanfon.",
        "fixed": "Y Llywodraeth a gweinidogion",
        "open": "Agor yn {platform}",
        "email": "Anfon e-bost",
        "mastodon": "Rhannu ar Mastodon",
        "wording": "fersiwn {n}",
        "prompt": "Enw eich gweinydd Mastodon (er enghraifft mastodon.social):",
        "invalid": "Nid yw hwnna’n enw gweinydd. Rhowch yr enw yn unig, e.e. mastodon.social.",
        "nojs": "Copïwch y testun uchod i Mastodon.",
        "forget": "Anghofio fy ngweinydd Mastodon",
        "footer": "Mae pob botwm yn agor eich cyfrif chi. Does dim cwcis na thracio ar y dudalen hon.",
    },
    "en": {
        "language": "English",
        "intro": "Pick a politician, then open a ready-written message. You can edit it before sending.",
        "fixed": "The Government and ministers",
        "open": "Open in {platform}",
        "email": "Send an email",
        "mastodon": "Share on Mastodon",
        "wording": "version {n}",
        "prompt": "Your Mastodon server's name (for example mastodon.social):",
        "invalid": "That is not a server name. Give only the name, e.g. mastodon.social.",
        "nojs": "Copy the text above into Mastodon.",
        "forget": "Forget my Mastodon server",
        "footer": "Every button opens your own account. This page has no cookies and no tracking.",
    },
}


class LinkLengthError(ValueError):
    """A link's text is over its platform's limit (ask_links reports it with its location)."""


def _label(language: str, key: str, **values: object) -> str:
    return LABELS.get(language, LABELS["en"])[key].format(**values)


def _ui_languages(campaign: Campaign) -> list[str]:
    return [language for language in campaign.languages if language in LABELS] or ["en"]


def check_lengths(links: Sequence[AskLink]) -> None:
    """Refuse (LinkLengthError) if any link's text breaks its platform's limit."""
    over = []
    for link in links:
        counted = count(link.platform, link.text)
        if not counted.ok:
            detail = counted.note or f"{counted.length} {counted.unit}, over {counted.limit}"
            over.append(
                f"ask '{link.ask_id}' wording {link.wording} ({link.language}) for target "
                f"'{link.target_id}' on {link.platform} is too long: {detail}"
            )
    if over:
        raise LinkLengthError("\n".join(over))


def link_rows(links: Sequence[AskLink], campaign: Campaign) -> list[dict[str, Any]]:
    """One flat record per link, with the target's name and place (the CSV/JSON rows)."""
    targets = {target.id: target for target in campaign.targets}
    rows = []
    for link in links:
        target = targets[link.target_id]
        counted = count(link.platform, link.text)
        rows.append(
            {
                "campaign": link.campaign_id,
                "target": link.target_id,
                "target_name": target.name,
                "role": target.role,
                "constituency": target.constituency,
                "region": target.region,
                "party": target.party,
                "ask": link.ask_id,
                "wording": link.wording,
                "platform": link.platform,
                "language": link.language,
                "text": link.text,
                "url": link.url,
                "token": link.token,
                "length": counted.length,
                "limit": counted.limit,
            }
        )
    return rows


def export_links(links: Sequence[AskLink], format: str, *, campaign: Campaign) -> str:
    """`links` as CSV, JSON (a list of objects) or a self-contained HTML page."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    check_lengths(links)
    if format == "html":
        return _html(links, campaign)
    rows = link_rows(links, campaign)
    if format == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: neutralise(value) for key, value in row.items()})
    return buffer.getvalue()


def _groups(links: Sequence[AskLink], campaign: Campaign) -> list[dict[str, Any]]:
    """Targets with links, grouped by constituency (or region); targets with neither first."""
    by_target: dict[str, list[AskLink]] = {}
    for link in links:
        by_target.setdefault(link.target_id, []).append(link)
    groups: dict[str | None, list[Target]] = {None: []}
    for target in campaign.targets:
        if target.id in by_target:
            groups.setdefault(target.constituency or target.region, []).append(target)
    ui = _ui_languages(campaign)
    result = []
    for index, (place, targets) in enumerate(groups.items()):
        if not targets:
            continue
        entries = []
        for target in targets:
            blocks = []
            for language in campaign.languages:
                rows = [_item(link) for link in by_target[target.id] if link.language == language]
                if rows:
                    blocks.append({"language": language, "rows": rows})
            entries.append({"target": target, "blocks": blocks})
        headings = [(place, None)] if place else [(_label(lang, "fixed"), lang) for lang in ui]
        result.append({"id": f"group-{index}", "headings": headings, "targets": entries})
    return result


def _item(link: AskLink) -> dict[str, Any]:
    language = link.language
    if link.platform == "email":
        label = _label(language, "email")
    elif link.platform == "mastodon":
        label = _label(language, "mastodon")
    else:
        label = _label(language, "open", platform=PLATFORM_NAMES[link.platform])
    return {
        "link": link,
        "label": f"{label} ({_label(language, 'wording', n=link.wording)})",
        "share": mastodon_share_path(link.text) if link.platform == "mastodon" else None,
        "prompt": _label(language, "prompt"),
        "invalid": _label(language, "invalid"),
        "nojs": _label(language, "nojs"),
    }


_PAGE = """\
<!DOCTYPE html>
<html lang="{{ primary }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{% for lang in ui %}{{ campaign.name.get(lang) or campaign.name[primary] }}\
{% if not loop.last %} / {% endif %}{% endfor %}</title>
<style>
body{font:1.05rem/1.5 system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;\
color:#111;background:#fff}
h1{font-size:1.6rem}h2{border-bottom:2px solid #0b4f6c;margin-top:2.5rem}
article{border:1px solid #999;border-radius:.4rem;margin:1rem 0;padding:.5rem 1rem}
ul{list-style:none;padding:0}li{border-top:1px solid #ddd;padding:.5rem 0}
.text{white-space:pre-wrap;margin:.25rem 0}.meta{color:#333;margin:0}
a.button,button{display:inline-block;background:#0b4f6c;color:#fff;border:0;\
border-radius:.3rem;padding:.55rem .9rem;font:inherit;text-decoration:none;cursor:pointer}
a.button:focus,button:focus{outline:3px solid #f5a300;outline-offset:2px}
footer{margin-top:3rem;color:#333}
</style>
</head>
<body>
<header>
<h1>{% for lang in ui %}<span lang="{{ lang }}">{{ campaign.name.get(lang) \
or campaign.name[primary] }}</span>{% if not loop.last %} / {% endif %}{% endfor %}</h1>
{% for lang in ui %}<p lang="{{ lang }}">{{ label(lang, "intro") }}</p>
{% endfor %}</header>
<main>
{% for group in groups %}
<section aria-labelledby="{{ group.id }}">
<h2 id="{{ group.id }}">{% for text, lang in group.headings %}\
{% if lang %}<span lang="{{ lang }}">{{ text }}</span>{% else %}{{ text }}{% endif %}\
{% if not loop.last %} / {% endif %}{% endfor %}</h2>
{% for entry in group.targets %}{% set target = entry.target %}
<article aria-labelledby="target-{{ target.id }}">
<h3 id="target-{{ target.id }}">{{ target.name }}</h3>
{% set meta = [target.role, target.party, target.region if target.constituency else None] \
| select | join(" · ") %}{% if meta %}<p class="meta">{{ meta }}</p>{% endif %}
{% for block in entry.blocks %}
<div lang="{{ block.language }}">
<h4>{{ label(block.language, "language") }}</h4>
<ul>
{% for item in block.rows %}{% set link = item.link %}
<li>
<p class="text" id="text-{{ link.token }}">{{ link.text }}</p>
{% if link.url %}<a class="button" href="{{ link.url }}" aria-describedby="text-{{ link.token }}" \
rel="noopener noreferrer"{% if link.platform != "email" %} target="_blank"{% endif %}>\
{{ item.label }}</a>
{% else %}<button type="button" hidden data-share="{{ item.share }}" \
data-prompt="{{ item.prompt }}" data-invalid="{{ item.invalid }}" \
aria-describedby="text-{{ link.token }}">{{ item.label }}</button>
<noscript><p>{{ item.nojs }}</p></noscript>
{% endif %}</li>
{% endfor %}</ul>
</div>
{% endfor %}</article>
{% endfor %}</section>
{% endfor %}</main>
<footer>
{% if has_mastodon %}<p><button type="button" hidden id="forget-mastodon">\
{% for lang in ui %}<span lang="{{ lang }}">{{ label(lang, "forget") }}</span>\
{% if not loop.last %} / {% endif %}{% endfor %}</button></p>
{% endif %}{% for lang in ui %}<p lang="{{ lang }}">{{ label(lang, "footer") }}</p>
{% endfor %}</footer>
{% if has_mastodon %}<script>
(function () {
  "use strict";
  var KEY = "kindling.mastodon.instance";
  var HOST = /^(?=[a-z0-9.-]{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  function stored() { try { return localStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function share(button) {
    var host = stored();
    if (!HOST.test(host)) {
      host = (window.prompt(button.dataset.prompt, "") || "").trim().toLowerCase();
      if (!host) { return; }
      if (!HOST.test(host)) { window.alert(button.dataset.invalid); return; }
      try { localStorage.setItem(KEY, host); } catch (e) { /* private mode: ask next time */ }
    }
    window.open("https://" + host + button.dataset.share, "_blank", "noopener,noreferrer");
  }
  document.querySelectorAll("button[data-share]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { share(button); });
  });
  var forget = document.getElementById("forget-mastodon");
  if (forget) {
    forget.hidden = false;
    forget.addEventListener("click", function () {
      try { localStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    });
  }
})();
</script>
{% endif %}</body>
</html>
"""

_ENV = Environment(
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATE = _ENV.from_string(_PAGE)


def _html(links: Sequence[AskLink], campaign: Campaign) -> str:
    return _TEMPLATE.render(
        campaign=campaign,
        primary=campaign.primary_language,
        ui=_ui_languages(campaign),
        groups=_groups(links, campaign),
        label=_label,
        has_mastodon=any(link.platform == "mastodon" for link in links),
    )


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file in the same directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def links_main(config: Config, reference: str, format: str, out: Path | None) -> int:
    """`kindling links CAMPAIGN --format F [--out PATH]`; returns the exit status."""
    path = find_campaign(reference, config.campaigns_dir)
    if path is None:
        click.echo(
            f"{reference}: no campaign file or campaign id '{reference}' in {config.campaigns_dir}",
            err=True,
        )
        return 1
    templates = Templates(config.templates_dir)
    report = check_one(path, templates, config.settings.general.timezone)
    problems = list(report.problems)
    links: list[AskLink] = []
    if report.loaded is not None and not problems:
        try:
            links = ask_links(report.loaded, templates)
        except ProblemsFound as found:
            problems = found.problems
    if report.loaded is None or problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} problem(s): no links exported", err=True)
        return 1
    text = export_links(links, format, campaign=report.loaded.campaign)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomically(out, text)
        click.echo(f"{len(links)} links written to {out}", err=True)
    return 0
