"""A finished download's file moved into the library under the configured template, atomically."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from medianest.downloads.spec import Failure
from medianest.filenames import render_template, unique_path
from medianest.library.folders import EMPTY, root_problem_now


def place(src: Path, root: Path, template: str, source: dict[str, Any], indexed: bool = False) -> Path:
    """Where `src` ends up: `root/<template>` (a free name if taken). A scan running at the same time
    never sees a half-copied file: the bytes go to a hidden name in the target folder first. A missing
    `root` is not created: it is a share not mounted yet or a typo, and files put there would be hidden
    by the mount or lost to the typo. Nor is an empty `root` filled while the library has items from it
    (`indexed`): that is the mount point of a share not mounted, and a file there would hide the fact
    from the next scan, which would then drop the share's items."""
    if not root.is_dir():
        raise Failure(f"the media folder downloads go to ({root.name}) is missing or not a folder: is its "
                      "share mounted? Fix it (see GET /api/v1/library/folders), then retry", transient=False)
    if indexed and root_problem_now(root) == EMPTY:
        raise Failure(f"the media folder downloads go to ({root.name}) is empty while the library has items "
                      "from it: is its share mounted? Mount it, then retry", transient=False)
    fields = {"channel": source.get("channel"), "title": source.get("title"), "id": source.get("id"),
              "site": source.get("site"), "uploader": source.get("channel"),
              "upload_date": (source.get("uploaded_at") or "")[:10] or None}
    dest = unique_path(root / render_template(template, fields, src.suffix.lstrip(".")))
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Short and random, not derived from the name: a name at the 255-byte limit would not fit a suffix.
    hidden = dest.with_name(f".medianest-{secrets.token_hex(8)}.part")
    try:
        os.replace(src, hidden)  # same file system: a rename
    except OSError:
        shutil.copyfile(src, hidden)  # another one (the data dir on another disk): copy, then rename
        src.unlink()
    os.replace(hidden, dest)
    return dest
