"""Playlists: per-user ordered lists of media, public or private, M3U8 in and out."""
