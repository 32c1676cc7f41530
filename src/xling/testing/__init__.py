"""What xling's tests and smoke benchmarks build: tiny models that load through the real
paths (`tinymodel.py`). Shipped in the package so that the benches and a user's own tests
can use them; nothing outside tests and benches imports it."""
