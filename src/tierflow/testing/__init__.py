"""Support shared by the tests and the benchmarks: a deployed platform, service contexts, data, load."""
