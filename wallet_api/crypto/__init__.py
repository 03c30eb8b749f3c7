"""Secrets at rest: envelope encryption of keys and personal data, and password hashing."""
