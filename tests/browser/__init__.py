"""Helpers of the browser and CLI tests: Chromium, screenshots, a network that can be cut."""
