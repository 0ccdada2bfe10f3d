#!/usr/bin/env bash
# Runs the faiss peer (bench/peer_faiss.py) in bench/.venv, creating the venv if needed.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are dropped for the peer only: when set they pin
# OpenBLAS to a slower kernel than the one it detects for this CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/setup_venv.sh"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
exec "$here/.venv/bin/python" "$here/peer_faiss.py" "$@"
