#!/usr/bin/env bash
# `make bench`: installs what the benchmark needs (wrk, the pinned bench requirements into the
# project .venv, django-hordak into its own bench/.venv-hordak), then runs bench/run.py.
# Knobs (environment): BENCH_QUICK=1, BENCH_SECONDS, BENCH_REPEATS, BENCH_PROCS,
# BENCH_SWEEP, BENCH_READ_LARGE, BENCH_GUNICORN_WORKERS, BENCH_GUNICORN_THREADS (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v pgbench >/dev/null || missing+=(postgresql-contrib)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "bench: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Benchmark-only packages into the project virtualenv, reinstalled when the list changes.
stamp=.venv/.bench-installed
if [ ! -f "$stamp" ] || [ bench/requirements.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q -r bench/requirements.txt
    touch "$stamp"
fi

# The peer in its own virtualenv: django-hordak is a Django app of its own.
hv=bench/.venv-hordak
if [ ! -f "$hv/.installed" ] || [ bench/requirements-hordak.txt -nt "$hv/.installed" ]; then
    python3 -m venv "$hv"
    "$hv/bin/python" -m pip install -q --upgrade pip
    "$hv/bin/python" -m pip install -q -r bench/requirements-hordak.txt
    touch "$hv/.installed"
fi

exec .venv/bin/python -m bench.run
