"""Imported once by the download fork server (`process.py`), so every child starts warm.

Finding the extractor for a URL compiles the URL pattern of each of yt-dlp's ~1,900 extractors, about
a second of CPU that every fresh process spends again (the plain `yt-dlp` command too). Done here, in
the process the children are forked from, the compiled patterns are inherited.
"""

from contextlib import suppress

import yt_dlp.extractor.generic  # noqa: F401 - the fallback every unknown site reaches
from yt_dlp.extractor import gen_extractor_classes

from medianest.downloads import ytdlp  # noqa: F401 - what the children run

for _extractor in gen_extractor_classes():
    with suppress(Exception):  # a pattern yt-dlp cannot compile fails the same way in the child
        _extractor.suitable("http://localhost/")
