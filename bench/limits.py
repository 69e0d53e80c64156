"""The process limits a benchmark of thousands of streams needs.

Standard library only: the upstream imports it, and the scenarios import the upstream, so
the regression check's tests (tests/test_bench_regress.py) need no benchmark dependency.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("bench.limits")


def raise_nofile(want: int = 0) -> int:
    """Raise this process's open-file limit (RLIMIT_NOFILE): the soft limit to the hard one,
    and the hard one to ``want`` when that is higher and the process may (root, or
    CAP_SYS_RESOURCE). Children inherit it. Returns the soft limit now in force.

    A stream is a socket: 10,000 streams need 10,000 descriptors in the load generator and
    twice that in the server (its client's and its upstream's), and distributions start
    processes with a soft limit of 1,024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if want > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            log.warning("open-file limit: %d wanted, the hard limit is %d (raise it: ulimit -Hn)", want, hard)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
