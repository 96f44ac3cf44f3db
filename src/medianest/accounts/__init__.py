"""Accounts: users, passwords, tokens, roles."""
