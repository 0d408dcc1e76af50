"""Logging in and out, registering as an applicant, and choosing the language."""
