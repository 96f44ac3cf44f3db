"""What GET /api/v1/search/remote answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from medianest.discovery.providers import Result, Site
from medianest.discovery.service import Failed, Outcome


class RemoteResultOut(BaseModel):
    """One video on another site; `url` is what POST /api/v1/downloads (or its preview) takes."""

    site: Site
    id: str
    url: str
    title: str
    channel: str | None
    duration_s: float | None
    thumbnail: str | None
    views: int | None
    published_at: datetime | None

    @classmethod
    def of(cls, r: Result) -> RemoteResultOut:
        return cls.model_validate(r, from_attributes=True)  # the same fields as the domain's Result


class SiteFailureOut(BaseModel):
    site: Site
    code: str = Field(description="the error code the site's failure maps to: UNAVAILABLE, UPSTREAM_ERROR, "
                                  "UPSTREAM_TIMEOUT")
    message: str

    @classmethod
    def of(cls, f: Failed) -> SiteFailureOut:
        return cls.model_validate(f, from_attributes=True)


class RemoteSearchMeta(BaseModel):
    page: int
    per_page: int = Field(description="the `limit` asked for, per site")
    has_more: bool
    sites: list[Site] = Field(description="the sites whose results are in `data`")
    failed: list[SiteFailureOut] = Field(description="sites that gave no results, and why")
    notice: str | None = Field(description="for a person: which site failed and whose results are shown instead")


class RemoteSearchOut(BaseModel):
    data: list[RemoteResultOut]
    meta: RemoteSearchMeta

    @classmethod
    def of(cls, outcome: Outcome, page: int, limit: int) -> RemoteSearchOut:
        meta = RemoteSearchMeta(page=page, per_page=limit, has_more=outcome.has_more, sites=outcome.sites,
                                failed=[SiteFailureOut.of(f) for f in outcome.failed], notice=outcome.notice)
        return cls(data=[RemoteResultOut.of(r) for r in outcome.results], meta=meta)
