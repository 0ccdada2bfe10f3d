#!/usr/bin/env bash
# The Python benchmark: rvf (the wheel of crates/rvf-py, release build) against faiss
# and usearch on MiniLM, and the per-call overhead of the binding over the Rust API.
# Creates bench/.venv-py (pinned in bench/requirements-python.txt) on first use; the
# faiss peer's bench/.venv is left alone. Prints a Markdown report.
#   bench/run_python_bench.sh [--rounds N] [--data DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/bench/.venv-py"
python="${PYTHON:-python3}"
cd "$root"

if [ ! -x "$venv/bin/python" ]; then
  echo "[python-bench] creating $venv" >&2
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
"${pip[@]}" install -r bench/requirements-python.txt >&2
echo "[python-bench] pip install ./crates/rvf-py (release)" >&2
PATH="$venv/bin:$PATH" "${pip[@]}" install --no-build-isolation --force-reinstall --no-deps ./crates/rvf-py >&2
echo "[python-bench] cargo build --release --example query_overhead" >&2
cargo build --quiet --release -p rvf-py --example query_overhead >&2
target="$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# As bench/run_peer.sh: when set, these pin OpenBLAS to a slower kernel than it detects.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
exec "$venv/bin/python" bench/python_bench.py --overhead-bin "$target/release/examples/query_overhead" "$@"
