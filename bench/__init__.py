"""credflow's benchmark harness: ``python -m bench`` (or ``make bench``).

Each benchmark is a module exposing a ``BENCHMARK`` (``bench.common.Benchmark``) whose ``run``
returns one table of rows: credflow's time per call against a reference implementation's, both
measured in the same process, on the same inputs, interleaved; a table may add checks (figures
held against a limit that are not time ratios: throughput, peak memory). ``bench/__main__.py``
holds the list of registered benchmarks: ``policy``, ``login``, ``scale`` and ``concurrency``;
the PostgreSQL rows of ``login`` and ``scale`` run only under ``scripts/with-postgres.sh``.
"""
