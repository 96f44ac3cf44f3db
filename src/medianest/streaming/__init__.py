"""Streaming: file bytes with Range, conditional GETs and the right headers; artwork."""
