"""A subscription's rule: which new entries to download, and which downloaded ones to keep.

Title patterns are words or phrases separated by `|`, matched case-insensitively anywhere in the title:
plain text, not regular expressions, so a user's pattern can never make a check hang on a long title.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from medianest.subscriptions.feeds import Entry
from medianest.subscriptions.models import PLAYLIST, QUEUED, SEEN, SKIPPED, Subscription, SubscriptionItem


def matches(patterns: str | None, title: str | None) -> bool:
    words = [w.strip().casefold() for w in (patterns or "").split("|") if w.strip()]
    text = (title or "").casefold()
    return any(w in text for w in words)


def wanted(sub: Subscription, entry: Entry, now: datetime) -> bool:
    """Whether the rule downloads this entry at all: the title patterns and the age limit."""
    if sub.include and not matches(sub.include, entry.title):
        return False
    if sub.exclude and matches(sub.exclude, entry.title):
        return False
    return not _too_old(sub, entry.published_at, now)


def states(sub: Subscription, new: Sequence[Entry], first: bool, now: datetime) -> list[str]:
    """The state of each new entry (newest first). A first check only indexes the source, downloading
    its newest `backfill` entries; later ones download what is new, but never more than `keep_last`
    would keep (the rest would be pruned as soon as they landed)."""
    budget = sub.backfill if first else (sub.keep_last or len(new))
    out = []
    for entry in new:
        if not wanted(sub, entry, now):
            out.append(SKIPPED)
        elif budget > 0:
            out.append(QUEUED)
            budget -= 1
        else:
            out.append(SEEN if first else SKIPPED)
    return out


def beyond_rule(sub: Subscription, done: Sequence[SubscriptionItem], now: datetime) -> list[SubscriptionItem]:
    """The downloaded items the rule no longer keeps: past the newest `keep_last`, or too old."""
    ordered = sorted(done, key=partial(_newest_first, sub.kind))
    keep = len(ordered) if sub.keep_last is None else sub.keep_last
    return ordered[keep:] + [i for i in ordered[:keep] if _too_old(sub, i.published_at or i.found_at, now)]


def _newest_first(kind: str, item: SubscriptionItem) -> tuple[float, float, int]:
    """By publication date when the source gives one (undated last); else entries found by a later check
    are newer, and within one check a channel lists its newest first, a playlist its oldest first."""
    published = item.published_at.timestamp() if item.published_at else float("-inf")
    position = item.position or 0
    return (-published, -item.found_at.timestamp(), -position if kind == PLAYLIST else position)


def _too_old(sub: Subscription, published: datetime | None, now: datetime) -> bool:
    return bool(sub.max_age_days and published and published < now - timedelta(days=sub.max_age_days))
