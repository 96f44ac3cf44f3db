"""Subscriptions: follow a channel, a playlist or a podcast feed, and download what is new."""
