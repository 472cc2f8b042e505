"""Benchmarks for the shop: `make bench` runs them all and writes docs-ready figures."""
