"""Accounts: API tokens of users (stored as SHA-256 hashes, never in clear)."""
