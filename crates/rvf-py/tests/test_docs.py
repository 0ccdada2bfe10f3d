"""The example of docs/python.md runs as written and prints what the page shows."""

import re
import subprocess
import sys

import pytest

from conftest import MINILM, REPO


@pytest.mark.skipif(not MINILM.exists(), reason="shared MiniLM data not present")
def test_docs_example(tmp_path):
    doc = (REPO / "docs" / "python.md").read_text()
    code = re.search(r"```python\n(import json\n.*?)```", doc, re.S).group(1)
    shown = re.search(r"It prints.*?```text\n(.*?)```", doc, re.S).group(1)
    # Run in a scratch directory (the example creates docs.rvf and experiment.rvf), with
    # the data path made absolute.
    code = code.replace('"../shared/data/minilm-a"', repr(str(MINILM)))
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == shown


@pytest.mark.skipif(not MINILM.exists(), reason="shared MiniLM data not present")
def test_readme_example(tmp_path):
    readme = (REPO / "README.md").read_text()
    code = re.search(r"```python\n(import json, numpy as np, rvf\n.*?)```", readme, re.S).group(1)
    code = code.replace('"../shared/data/minilm-a"', repr(str(MINILM)))
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("deleted in the branch: ") and int(lines[0].split()[-1]) > 0
    # The branch lost the top hit's source; the base kept every vector.
    assert lines[2].startswith("base:") and lines[2].endswith(" 50000"), lines
    assert int(lines[1].split()[-1]) == 50000 - int(lines[0].split()[-1]), lines
