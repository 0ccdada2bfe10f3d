#!/usr/bin/env bash
# Builds the `rvf` Python package into a venv outside git (target/py-venv) and runs its
# pytest suite. The wheel is a release build (maturin's default profile): the build
# dominates the run time, and the tests and bench/python_bench.py share it.
#   scripts/python-tests.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${RVF_PY_VENV:-target/py-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  "$python" -m venv "$venv"
fi
# The build backend runs the venv's `maturin` executable, so the venv goes on PATH.
export PATH="$PWD/$venv/bin:$PATH"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet -r crates/rvf-py/requirements-dev.txt
echo "== pip install ./crates/rvf-py (release build)"
# The pinned maturin is already in the venv: no isolated build env to download.
"${pip[@]}" install --quiet --no-build-isolation --force-reinstall --no-deps ./crates/rvf-py
echo "== pytest crates/rvf-py/tests"
"$venv/bin/python" -m pytest crates/rvf-py/tests -q "$@"
