"""The committee's task inbox."""
