"""Clients of outside services. Each takes an injected `httpx.AsyncClient` and raises its own typed error."""
