"""Stagecast's benchmark suite: a paced upstream, a load generator, contenders and a report.

Entry point: ``python bench/run.py`` (``--quick`` for the short set). See docs/benchmarks.md.
"""
