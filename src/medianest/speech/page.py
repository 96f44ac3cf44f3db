"""A web page's readable text, for speaking it: fetched with the download URL's SSRF rules applied to
the URL and to every redirect hop (a public page may redirect to 127.0.0.1 or to the cloud metadata
service), with a size cap and a time limit, then its article found by readability-lxml (Mozilla
Readability's algorithm: the main text without menus, footers and comment threads)."""

from __future__ import annotations

import asyncio
import codecs
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from medianest.downloads.safety import AddressRefused, GuardedTransport, check_url
from medianest.errors import BadRequest, InvalidInput, UpstreamTimeout, UpstreamUnavailable
from medianest.integrations.http import USER_AGENT
from medianest.text import clean_optional, clean_text

MAX_PAGE_BYTES = 5 * 1024 * 1024  # an article's HTML is well under 1 MiB; this is not one
MAX_REDIRECTS = 5
PAGE_TIMEOUT_S = 15.0
SITE = "the page's site"
HTML_TYPES = ("text/html", "application/xhtml+xml")
# Block elements whose end is a break in the text: sentences on either side are not run together.
BLOCKS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "section",
          "article", "dd", "dt", "figcaption")


@dataclass(frozen=True)
class Page:
    url: str  # where the text was found (after redirects)
    title: str | None
    text: str


async def read_page(http: httpx.AsyncClient, url: str, allow_private: bool) -> Page:
    """The page's title and readable text. InvalidInput("url") for a URL that must not be fetched or a
    page with nothing to read, BadRequest when the page answers with an error, UpstreamUnavailable or
    UpstreamTimeout when its site cannot be reached in time."""
    for _ in range(MAX_REDIRECTS + 1):
        checked = await check_url(url, allow_private=allow_private)
        location, content, content_type = await _get(http, checked)
        if location is None:
            return await asyncio.to_thread(_readable, checked, content, content_type)
        url = urljoin(checked, location)
    raise BadRequest(f"the page redirects more than {MAX_REDIRECTS} times")


def page_client(allow_private: bool) -> httpx.AsyncClient:
    """A client for reading pages: no environment proxy (the page's host was checked, not a proxy's), and
    every connection's address checked as it is made (DNS rebinding: a name may resolve elsewhere than
    when `check_url` looked, to 127.0.0.1, whose text would come back to the user as speech)."""
    return httpx.AsyncClient(transport=GuardedTransport(allow_private), trust_env=False,
                             headers={"User-Agent": USER_AGENT})


async def _get(http: httpx.AsyncClient, url: str) -> tuple[str | None, bytes, str]:
    """(redirect target, None when not a redirect), the body (at most MAX_PAGE_BYTES), the content type."""
    try:
        async with http.stream("GET", url, follow_redirects=False, timeout=PAGE_TIMEOUT_S,
                               headers={"Accept": "text/html,application/xhtml+xml,text/plain;q=0.8"}) as response:
            if response.is_redirect and response.headers.get("location"):
                return response.headers["location"], b"", ""
            if response.status_code != 200:
                raise BadRequest(f"cannot read this page: it answered {response.status_code}")
            return None, await _body(response), response.headers.get("content-type", "")
    except AddressRefused as exc:
        raise InvalidInput("url", f"cannot be read ({exc})") from None
    except httpx.TimeoutException:
        raise UpstreamTimeout(SITE) from None
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(SITE, f"unreachable ({type(exc).__name__})") from None


async def _body(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PAGE_BYTES:
        raise InvalidInput("url", f"the page is larger than {MAX_PAGE_BYTES // 1024 // 1024} MiB")
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_PAGE_BYTES:
            raise InvalidInput("url", f"the page is larger than {MAX_PAGE_BYTES // 1024 // 1024} MiB")
    return bytes(content)


def _readable(url: str, content: bytes, content_type: str) -> Page:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/plain":
        return Page(url, None, _tidy(content.decode(_charset(content_type) or "utf-8", errors="replace")))
    if kind and kind not in HTML_TYPES:
        raise InvalidInput("url", f"the page is not HTML or text ({kind[:100]})")
    charset = _charset(content_type)
    title, text = _article(content.decode(charset, errors="replace") if charset else content)
    return Page(url, title, text)


def _article(content: str | bytes) -> tuple[str | None, str]:
    """(title, text) of the main article; bytes are decoded by readability-lxml (the page's `<meta charset>`,
    else a guess), text as given (the HTTP header named its charset)."""
    from lxml import etree
    from lxml import html as lxml_html
    from readability import Document
    from readability.readability import Unparseable

    try:
        document = Document(content)
        title = clean_optional(document.short_title(), 300)
        root = lxml_html.fromstring(document.summary(html_partial=True))
    except (Unparseable, etree.ParserError, ValueError):
        raise InvalidInput("url", "the page has no readable text") from None
    for element in root.iter(*BLOCKS):
        element.tail = "\n" + (element.tail or "")
    return title, _tidy(root.text_content())


def _tidy(text: str) -> str:
    """Control characters (NUL...) and replacement characters (what the parser made of them) gone, each
    line's spaces collapsed, blank lines dropped."""
    lines = (" ".join(line.split()) for line in clean_text(text.replace("\ufffd", "")).splitlines())
    return "\n".join(line for line in lines if line)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                return None
    return None
