#!/usr/bin/env bash
# Regenerates the initial migration from the models (only while nothing has shipped).
set -euo pipefail
rm -f callback/migrations/versions/0001_initial_schema.py /tmp/gen.sqlite3
DATABASE_URL=sqlite:////tmp/gen.sqlite3 .venv/bin/alembic revision --autogenerate -m "initial schema" --rev-id 0001 >/dev/null
echo regenerated
