"""Amplification: finding supporters' posts about a campaign and reposting, liking or quoting
them within the organiser's rules (sources, allowlist and blocklist, caps, spacing, quiet hours,
an optional approval queue)."""
