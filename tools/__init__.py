"""Project commands run by the Makefile (synthesis, benchmarks, lock files)."""
