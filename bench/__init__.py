"""Benchmarks run by `make bench`: tikiti against raw-SQL baselines measured in the same run."""
