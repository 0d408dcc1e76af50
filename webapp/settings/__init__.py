"""The user's own settings: personal API tokens."""
