"""Quote cards: images made from a campaign's quote pools, with their alt text, and the checks
every image a campaign posts must pass before it can fail at send time."""
