"""The stream transport every surface shares: the native API (``app/api/``) and the protocol
adapters (``app/protocols/``) sit side by side on top of it, and it imports neither.

- ``slots.py``: how many streams a worker, a run and a client may hold open (``StreamSlots``).
- ``hangup.py``: noticing a client that left while its stream is silent.
- ``encoders.py``: how a run's log entries become one protocol's bytes; the native stream's
  encoder writes entries as they are, the protocols' encoders get each event parsed.
- ``loop.py``: the one read loop: follow a run's log, heartbeats, drain, hang-up, metered.
- ``streams.py``: start a run for a stream (slots first), subscribe to it, build the
  ``Response``; wait for a run's end the same way.

This package imports nothing of the app's extension state: callers hand it the run manager
and the stream slots.
"""
