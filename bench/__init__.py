"""The benchmark suite that `make bench` runs (`python -m bench`): see docs/performance.md."""
