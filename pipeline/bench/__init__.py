"""Benchmarks: ``python -m pipeline.bench {hfs,dmg} [options]``.

Each benchmark measures the project's operation next to a baseline run in
the same process or command (a plain copy, the bare compressor) and prints
ratios, so figures are comparable across machines.
"""
