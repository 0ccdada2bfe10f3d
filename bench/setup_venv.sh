#!/usr/bin/env bash
# Creates bench/.venv with the Python peer's packages (faiss-cpu, numpy, threadpoolctl, hnswlib).
# Idempotent: does nothing when the venv already imports all three.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import faiss, numpy, threadpoolctl, hnswlib' 2>/dev/null; then
    exit 0
fi
echo "[peer] creating $venv (pip install -r bench/requirements.txt)" >&2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
"$venv/bin/python" -c 'import faiss, numpy, threadpoolctl, hnswlib' >&2
