"""credflow's benchmark harness: ``python -m bench`` (or ``make bench``).

Each benchmark is a module exposing a ``BENCHMARK`` (``bench.common.Benchmark``) whose ``run``
returns one table of rows: credflow's time per call against a reference implementation's, both
measured in the same process, on the same inputs, interleaved. ``bench/__main__.py`` holds the
list of registered benchmarks.
"""
