"""Walk the media folders: every media file with its size and mtime, and what could not be walked.

Symlinks are followed only when their target stays inside a media folder; loops and broken links are
reported, never followed forever.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from medianest.library.formats import format_of


class FileStat(NamedTuple):
    path: str
    size: int
    mtime: float


@dataclass
class WalkResult:
    files: list[FileStat] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    # Roots that exist and were listed; files under a missing root (an unmounted disk) are kept.
    walked_roots: list[str] = field(default_factory=list)


def inside(path: str, roots: list[str]) -> bool:
    """True when `path` (already resolved) lies under one of `roots` (resolved)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def walk(roots: list[Path]) -> WalkResult:
    root_strs = [str(r) for r in roots]
    result = WalkResult()
    visited: set[str] = set()
    for root in root_strs:
        if os.path.isdir(root):
            result.walked_roots.append(root)
            _walk_dir(root, root_strs, visited, result)
    return result


def _walk_dir(top: str, roots: list[str], visited: set[str], result: WalkResult) -> None:
    stack = [top]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in visited:
            continue
        visited.add(real)
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    _visit(entry, roots, stack, result)
        except OSError as exc:
            result.failures.append((directory, _reason(exc)))


def _visit(entry: os.DirEntry[str], roots: list[str], stack: list[str], result: WalkResult) -> None:
    if entry.name.startswith("."):
        return  # hidden files and folders (.Trash, .thumbnails, partial downloads)
    try:
        if entry.is_symlink():
            _visit_link(entry, roots, stack, result)
        elif entry.is_dir(follow_symlinks=False):
            stack.append(entry.path)
        elif format_of(entry.name) is not None:
            st = entry.stat(follow_symlinks=False)
            _add_file(entry.path, st.st_size, st.st_mtime, result)
    except OSError as exc:
        if format_of(entry.name) is not None:
            result.failures.append((entry.path, _reason(exc)))


def _visit_link(entry: os.DirEntry[str], roots: list[str], stack: list[str], result: WalkResult) -> None:
    is_media = format_of(entry.name) is not None
    try:
        st = os.stat(entry.path)  # follows the link; raises on broken links and loops
    except OSError as exc:
        if is_media or exc.errno == errno.ELOOP:
            result.failures.append((entry.path, _reason(exc, link=True)))
        return
    target = os.path.realpath(entry.path)
    if not inside(target, roots):
        if is_media:
            result.failures.append((entry.path, "symlink points outside the media folders"))
        return
    if os.path.isdir(target):
        stack.append(entry.path)
    elif is_media:
        _add_file(entry.path, st.st_size, st.st_mtime, result)


def _add_file(path: str, size: int, mtime: float, result: WalkResult) -> None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        # Not valid UTF-8 on disk: it cannot be stored or served by name; report and skip.
        result.failures.append((path.encode("utf-8", "replace").decode(), "file name is not valid UTF-8"))
        return
    result.files.append(FileStat(path, size, mtime))


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
