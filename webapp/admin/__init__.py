"""The process owners' pages: process models and their versions."""
