"""Test helpers: an SSE parser, a gunicorn launcher and a fake OpenAI-compatible server."""
