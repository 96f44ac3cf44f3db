"""Walk the media folders: every media file with its size and mtime, and what could not be walked.

Symlinks are followed only when their target stays inside a media folder; loops and broken links are
reported, never followed forever. A folder that cannot be listed (a media folder missing or not
mounted, one inside it unreadable) is reported apart from files, with why: the scanner keeps the
items it holds instead of removing them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from medianest.library.formats import FORMATS, format_of

# The file types to index, by extension (dot included, lower case), for the walk's inner loop.
MEDIA_EXTENSIONS = frozenset(FORMATS)
# Listing a folder from an open handle needs scandir(fd) and O_DIRECTORY (POSIX; not Windows).
_LIST_BY_FD = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")

# Why a folder is offline, as short phrases without its path (they reach every user, after "Its media
# folder is offline: ").
MISSING = "missing (not mounted, moved or renamed)"
NOT_A_FOLDER = "not a folder"
BROKEN_LINK = "a broken symlink"
LINK_LOOP = "a symlink loop"
PERMISSION_DENIED = "cannot be read (permission denied)"


class FileStat(NamedTuple):
    path: str
    size: int
    mtime: float
    etag: str | None = None  # an object's in a bucket (library/buckets.py); None for a local file


@dataclass
class Listing:
    """Media files' size and mtime by path: as found on disk, or as the index has them.

    Two dicts rather than one of (size, mtime) tuples: a tuple per file is an allocation the garbage
    collector tracks, and at 10k+ files those alone kept setting off full collections in rescans.
    Dicts also let the scanner compare a whole listing with the index in C.
    """

    sizes: dict[str, int] = field(default_factory=dict)
    mtimes: dict[str, float] = field(default_factory=dict)
    # Objects' ETags (only objects in a bucket have one): a change of ETag is a change too.
    etags: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sizes)

    def __contains__(self, path: object) -> bool:
        return path in self.sizes

    def __iter__(self) -> Iterator[str]:
        return iter(self.sizes)

    def stat(self, path: str) -> tuple[int, float]:
        return self.sizes[path], self.mtimes[path]

    def file(self, path: str) -> FileStat:
        return FileStat(path, self.sizes[path], self.mtimes[path], self.etags.get(path))

    def same_as(self, other: Listing) -> bool:
        return self.sizes == other.sizes and self.mtimes == other.mtimes and self.etags == other.etags

    def without(self, paths: set[str]) -> Listing:
        if not paths:
            return self
        return Listing(_without(self.sizes, paths), _without(self.mtimes, paths), _without(self.etags, paths))


def _without(d: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    if len(keys) > len(d) // 2:
        return {k: v for k, v in d.items() if k not in keys}
    rest = dict(d)  # a C-level copy, then a few deletions
    for k in keys:
        rest.pop(k, None)
    return rest


@dataclass
class WalkResult:
    files: Listing = field(default_factory=Listing)
    failures: list[tuple[str, str]] = field(default_factory=list)
    # Roots that exist and were listed.
    walked_roots: list[str] = field(default_factory=list)
    # Folders that could not be listed (a root missing, not mounted or unreadable; a folder inside one
    # unreadable), with why.
    offline: dict[str, str] = field(default_factory=dict)
    # Roots listed but holding no media file at all, readable or not: the mount point of a share not
    # mounted yet looks like this (the scanner asks the index whether anything was there).
    empty_roots: list[str] = field(default_factory=list)
    # Symlinks not named like media files that lead nowhere: folders, perhaps, with indexed files.
    dead_links: dict[str, str] = field(default_factory=dict)


def inside(path: str, roots: list[str]) -> bool:
    """True when `path` (already resolved) lies under one of `roots` (resolved)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def walk(roots: list[Path]) -> WalkResult:
    root_strs = [str(r) for r in roots]
    result = WalkResult()
    visited: set[str] = set()
    for root in root_strs:
        problem = _root_problem(root)
        if problem is not None:
            result.offline[root] = problem
            continue
        before = len(result.files) + len(result.failures)
        _walk_dir(root, root_strs, visited, result)
        if root in result.offline:
            continue  # it could not be listed after all (permission denied, I/O error)
        result.walked_roots.append(root)
        if len(result.files) + len(result.failures) == before:
            result.empty_roots.append(root)
    return result


def _root_problem(root: str) -> str | None:
    """Why a configured folder cannot be walked, before trying to list it; None when it is a folder."""
    if os.path.isdir(root):
        return None
    if os.path.islink(root):
        return BROKEN_LINK
    return NOT_A_FOLDER if os.path.lexists(root) else MISSING


def _walk_dir(top: str, roots: list[str], visited: set[str], result: WalkResult) -> None:
    # Each folder travels with its resolved path, so a folder reached through a symlink and directly
    # is listed once. Only roots and symlinks need os.path.realpath (an lstat per path component);
    # a plain subfolder's resolved path is its parent's plus its name.
    stack = [(top, os.path.realpath(top))]
    while stack:
        directory, real = stack.pop()
        if real in visited:
            continue
        visited.add(real)
        try:
            _list_dir(directory, real, roots, stack, result)
        except OSError as exc:
            result.offline[directory] = folder_reason(exc)


def _list_dir(directory: str, real: str, roots: list[str], stack: list[tuple[str, str]],
              result: WalkResult) -> None:
    if not _LIST_BY_FD:
        with os.scandir(directory) as entries:
            _list(entries, directory, real, roots, stack, result)
        return
    # Listed through an open handle, each entry's stat() is relative to it (fstatat): the kernel
    # looks up one name instead of every component of the path, a tenth of a rescan's walk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as entries:
            _list(entries, directory, real, roots, stack, result)
    finally:
        os.close(fd)  # the entries' stat() uses it, so only once they are all done


def _list(entries: Iterator[os.DirEntry[str]], directory: str, real: str, roots: list[str],
          stack: list[tuple[str, str]], result: WalkResult) -> None:
    """One folder's entries. This loop runs once per file of the library, so it is kept flat: the
    common cases (a folder, a media file, anything else) cost no extra calls; is_dir and is_symlink
    come from the directory listing itself, so only media files cost a stat. Entries listed from a
    handle carry no path, so paths are built here, as scandir would (folder + separator + name)."""
    prefix = directory if directory.endswith(os.sep) else directory + os.sep
    real_prefix = real if real.endswith(os.sep) else real + os.sep
    sizes, mtimes = result.files.sizes, result.files.mtimes
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue  # hidden files and folders (.Trash, .thumbnails, partial downloads)
        try:
            if entry.is_dir(follow_symlinks=False):  # False for symlinks, which come next
                stack.append((prefix + name, real_prefix + name))
            elif entry.is_symlink():
                _visit_link(prefix + name, roots, stack, result)
            elif name[name.rfind("."):].lower() in MEDIA_EXTENSIONS:  # format_of(name), inlined
                st = entry.stat(follow_symlinks=False)
                path = prefix + name
                if path.isascii():  # O(1), a flag on the string: valid UTF-8, so _add_file's test is moot
                    sizes[path] = st.st_size
                    mtimes[path] = st.st_mtime
                else:
                    _add_file(path, st.st_size, st.st_mtime, result)
        except OSError as exc:
            if format_of(name) is not None:
                result.failures.append((prefix + name, _reason(exc)))


def _visit_link(path: str, roots: list[str], stack: list[tuple[str, str]], result: WalkResult) -> None:
    is_media = format_of(os.path.basename(path)) is not None
    try:
        st = os.stat(path)  # follows the link; raises on broken links and loops
    except OSError as exc:
        if is_media or exc.errno == errno.ELOOP:
            result.failures.append((path, _reason(exc, link=True)))
        if not is_media:
            result.dead_links[path] = folder_reason(exc, link=True)
        return
    target = os.path.realpath(path)
    if not inside(target, roots):
        if is_media:
            result.failures.append((path, "symlink points outside the media folders"))
        return
    if os.path.isdir(target):
        stack.append((path, target))
    elif is_media:
        _add_file(path, st.st_size, st.st_mtime, result)


def _add_file(path: str, size: int, mtime: float, result: WalkResult) -> None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        # Not valid UTF-8 on disk: it cannot be stored or served by name; report and skip.
        result.failures.append((path.encode("utf-8", "replace").decode(), "file name is not valid UTF-8"))
        return
    result.files.sizes[path] = size
    result.files.mtimes[path] = mtime


def folder_reason(exc: OSError, link: bool = False) -> str:
    """Why a folder cannot be listed, as a phrase without its path."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PERMISSION_DENIED
    if exc.errno == errno.ELOOP:
        return LINK_LOOP
    if exc.errno == errno.ENOENT:
        return BROKEN_LINK if link else MISSING
    if exc.errno == errno.ENOTDIR:
        return NOT_A_FOLDER
    return f"cannot be read ({exc.strerror or exc})"


def _reason(exc: OSError, link: bool = False) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT and link:
        return "broken symlink"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "name too long"
    return f"cannot read: {exc.strerror or exc}"
