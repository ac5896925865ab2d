"""Lesson 1 runs end to end in --quick mode and writes its plots."""
import pytest
import subprocess
import sys
from pathlib import Path

pytestmark = pytest.mark.lessons

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_lesson01_quick(tmp_path):
    out = tmp_path / "lesson01"
    result = subprocess.run(
        [sys.executable, "-m", "lessons.01_tokenizer", "--quick", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for name in ("token_boundaries.png", "compression_vs_vocab.png"):
        png = out / name
        assert png.is_file() and png.stat().st_size > 10_000, name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "GPT-2 (50,257)" in result.stdout  # the comparison table was printed
