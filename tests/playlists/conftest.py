"""The playlists tests use the same scanned library (admin, users A and B) as the playback tests."""

from tests.playback.conftest import Library, lib  # noqa: F401  (re-exported fixture)
