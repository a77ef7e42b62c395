"""Benchmarks of batchkit, run on demand (never by pytest): ``python -m benchmarks [--quick]``.

See ``benchmarks/README.md`` for the convention every module follows.
"""
