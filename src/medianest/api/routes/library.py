"""Routes: /api/v1/media (list, get, edit, delete), /api/v1/artists, /api/v1/albums, /api/v1/library/*."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from medianest.accounts.tokens import TokenSigner
from medianest.api.deps import AdminUser, ArtworkDep, CurrentUser, PageDep, SessionDep, parse_id, parts
from medianest.api.envelope import Envelope, Page, errors, ok, page
from medianest.inputs import NO_NUL
from medianest.library import listing, service
from medianest.library.scans import ScanRunner
from medianest.library.schemas import (
    AlbumOut,
    FolderOut,
    MediaOut,
    MediaPatch,
    NameCount,
    ScanOut,
    SortField,
    Viewer,
    media_out,
)

router = APIRouter(prefix="/api/v1", tags=["library"], responses=errors(401, 403))


async def _viewer(request: Request, user: CurrentUser) -> Viewer:
    """The caller, for `media_out`, with the offline folders (a cached lookup: a query every few seconds
    at most). Every route that renders media items takes it: here, in playback/ and playlists/."""
    runner: ScanRunner = parts(request).scans
    signer: TokenSigner = parts(request).auth.signer
    return Viewer(user.id, user.token_epoch, signer, await runner.offline())


def _scans(request: Request) -> ScanRunner:
    runner: ScanRunner = parts(request).scans
    return runner


ViewerDep = Annotated[Viewer, Depends(_viewer)]
ScansDep = Annotated[ScanRunner, Depends(_scans)]
Text = Annotated[str | None, Query(max_length=1024, pattern=NO_NUL)]


def _media_query(
    kind: Literal["audio", "video"] | None = None, liked: bool | None = None,
    q: Annotated[str | None, Query(max_length=256, pattern=NO_NUL, description="words; prefixes match")] = None,
    artist: Text = None, album: Text = None, genre: Text = None,
    sort: SortField | None = None, order: Literal["asc", "desc"] | None = None,
) -> listing.MediaQuery:
    return listing.MediaQuery(kind, liked, q, artist, album, genre, sort, order)


@router.get("/media", responses=errors(422))
async def list_media(user: CurrentUser, session: SessionDep, viewer: ViewerDep, paging: PageDep,
                     query: Annotated[listing.MediaQuery, Depends(_media_query)]) -> Page[MediaOut]:
    """The library, with the caller's likes, plays and resume points; search ranks by relevance."""
    rows, total = await listing.list_media(session, user.id, query, paging.offset, paging.per_page)
    items = [media_out(m, s, viewer) for m, s in rows]
    return page(items, page=paging.page, per_page=paging.per_page, total=total)


@router.get("/media/{media_id}", responses=errors(404))
async def get_media(media_id: str, user: CurrentUser, session: SessionDep, viewer: ViewerDep,
                    ) -> Envelope[MediaOut]:
    media, state = await service.get_media(session, user.id, parse_id(media_id, "media"))
    return ok(media_out(media, state, viewer))


@router.patch("/media/{media_id}", responses=errors(404, 422))
async def patch_media(media_id: str, body: MediaPatch, admin: AdminUser, session: SessionDep,
                      viewer: ViewerDep) -> Envelope[MediaOut]:
    """Edit tags (admins; the library is shared)."""
    mid = parse_id(media_id, "media")
    await service.patch_media(session, admin, mid, body)
    media, state = await service.get_media(session, admin.id, mid)
    return ok(media_out(media, state, viewer))


@router.delete("/media/{media_id}", status_code=204, responses=errors(404))
async def delete_media(media_id: str, admin: AdminUser, session: SessionDep, images: ArtworkDep,
                       purge: bool = False) -> Response:
    """Hide an item (admins); `purge=true` also deletes the file (or its object) and its artwork."""
    await service.delete_media(session, admin, parse_id(media_id, "media"), purge, images)
    return Response(status_code=204)


@router.get("/artists", responses=errors(422))
async def list_artists(_: CurrentUser, session: SessionDep, paging: PageDep, q: Text = None) -> Page[NameCount]:
    rows, total = await service.artists(session, paging.offset, paging.per_page, q)
    return page(rows, page=paging.page, per_page=paging.per_page, total=total)


@router.get("/albums", responses=errors(422))
async def list_albums(_: CurrentUser, session: SessionDep, paging: PageDep, artist: Text = None,
                      genre: Text = None) -> Page[AlbumOut]:
    rows, total = await service.albums(session, paging.offset, paging.per_page, artist, genre)
    return page(rows, page=paging.page, per_page=paging.per_page, total=total)


@router.post("/library/scans", status_code=202)
async def start_scan(admin: AdminUser, scans: ScansDep) -> Envelope[ScanOut]:
    """Start a scan in the background (or return the one already running)."""
    return ok(ScanOut.of(await scans.start(admin.id)))


@router.get("/library/scans/{scan_id}", responses=errors(404))
async def get_scan(scan_id: str, _: AdminUser, scans: ScansDep) -> Envelope[ScanOut]:
    """A scan, with the folders it found offline; one whose process died is reported interrupted."""
    return ok(ScanOut.of(await scans.get(parse_id(scan_id, "scan"))))


@router.get("/library/folders")
async def list_folders(_: AdminUser, session: SessionDep, scans: ScansDep) -> Envelope[list[FolderOut]]:
    """The media folders: online or offline as the last scan found them (and why), their item counts,
    the folders inside them that could not be read, and the files that could not be read."""
    # The folders as resolved at start (as the scans see them), not again now: one replaced by a
    # symlink since would be listed under its target's path.
    return ok(await service.folders(session, scans.roots))
