"""Playback: per-user likes, plays, resume positions and history."""
