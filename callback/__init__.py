"""The callback application: one package per feature (ledger, draws, responses, rectification, results, …), the
models and database module they share, and the entry points (web/, cli/). See docs/architecture.md."""
