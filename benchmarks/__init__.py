"""Head-to-head timings against peer libraries and physical bounds (run as ``python -m benchmarks.NAME``)."""
