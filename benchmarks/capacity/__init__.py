"""The capacity benchmark's measures (benchmarks/bench_capacity.py runs them): ledger import, weekly draw,
dialer, IVR answer webhook — each figure next to a baseline measured in the same run (README "Benchmarks")."""
