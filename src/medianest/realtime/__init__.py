"""Realtime delivery of events to clients."""
