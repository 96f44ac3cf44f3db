"""The private RSS 2.0 feed of a subscription, with iTunes tags, so any podcast app can follow it.

Each episode's enclosure is a URL under the same secret token; it serves the file with Range requests
(podcast apps seek and resume), and only files this subscription downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from medianest.library.models import Media
from medianest.subscriptions.models import Subscription, SubscriptionItem

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ET.register_namespace("itunes", ITUNES)


def render(sub: Subscription, entries: Sequence[tuple[SubscriptionItem, Media]], link: str,
           enclosure_url: Callable[[Media], str]) -> bytes:
    """The feed's XML; `link` is the subscription's page, `enclosure_url` each file's address."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    _text(channel, "title", sub.name)
    _text(channel, "link", link)
    _text(channel, "description", sub.description or f"What MediaNest downloaded from {sub.url}")
    _text(channel, "generator", "MediaNest")
    if sub.image_url:
        ET.SubElement(channel, f"{{{ITUNES}}}image", {"href": sub.image_url})
    for item, media in entries:
        _episode(channel, item, media, enclosure_url(media))
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def _episode(channel: ET.Element, item: SubscriptionItem, media: Media, url: str) -> None:
    node = ET.SubElement(channel, "item")
    _text(node, "title", media.title or item.title or "")
    _text(node, "guid", f"medianest:{item.subscription_id}:{item.source_key}").set("isPermaLink", "false")
    when = item.published_at or media.uploaded_at or media.added_at
    _text(node, "pubDate", format_datetime(when))
    if media.description or item.description:
        _text(node, "description", media.description or item.description or "")
    ET.SubElement(node, "enclosure", {"url": url, "length": str(media.size), "type": media.mime})
    if media.duration_s:
        _text(node, f"{{{ITUNES}}}duration", str(int(media.duration_s)))


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    node = ET.SubElement(parent, tag)
    node.text = value
    return node
