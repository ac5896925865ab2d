"""The exercise grader (tests/exercises) can fail: every test fails on the untouched stubs, and a solution
with one classic bug fails exactly its own exercise. Also: the stubs and the solutions stay in step."""
import ast
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.exercises.conftest import EXERCISES

REPO_ROOT = Path(__file__).resolve().parents[1]
STUBS = REPO_ROOT / "lessons" / "exercises"
SOLUTIONS = REPO_ROOT / "lessons" / "solutions"


# Both gradings in one process, one after the other: each fresh interpreter spends seconds importing torch.
# pytest.main is what `python -m pytest` runs; the grader's conftest resets its state in pytest_configure.
DRIVER = """
import sys, pytest
for folder, xml in zip(sys.argv[1::2], sys.argv[2::2]):
    print(f"@@@ grading {folder}", flush=True)
    code = pytest.main(["tests/exercises", "--exercises", folder, "-q", "-p", "no:cacheprovider", "--junitxml", xml])
    print(f"@@@ exit code {int(code)}", flush=True)
"""


def parse_junit(xml: Path) -> dict:
    """{"test_attention::test_x": "passed" / "failed" / "skipped"}"""
    cases = {}
    for case in ET.parse(xml).iter("testcase"):
        module = case.get("classname").rsplit(".", 1)[-1]
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        cases[f"{module}::{case.get('name')}"] = "failed" if outcome in ("failure", "error") else outcome
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the untouched stubs, and a copy of the solutions with one classic bug planted in attention.py."""
    tmp = tmp_path_factory.mktemp("grader")
    buggy = tmp / "buggy"
    shutil.copytree(SOLUTIONS, buggy)
    attention = buggy / "attention.py"
    source = attention.read_text()
    assert "/ math.sqrt(q.size(-1))" in source, "the attention solution changed: update the bug this test plants"
    attention.write_text(source.replace("/ math.sqrt(q.size(-1))", ""))  # no 1/sqrt(D)

    runs = {"stubs": STUBS, "buggy": buggy}
    args = [str(a) for name, folder in runs.items() for a in (folder, tmp / f"{name}.xml")]
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    outputs = proc.stdout.split("@@@ grading ")[1:]
    assert len(outputs) == len(runs), proc.stdout[-3000:] + proc.stderr[-3000:]
    results = {}
    for name, output in zip(runs, outputs):
        xml = tmp / f"{name}.xml"
        assert xml.is_file(), output[-3000:]
        returncode = int(output.rsplit("@@@ exit code ", 1)[1])
        results[name] = (returncode, output, parse_junit(xml))
    return results


def exercise_of(case: str) -> str:
    return case.split("::")[0].removeprefix("test_")


def test_every_test_fails_on_the_stubs(graded):
    returncode, output, cases = graded["stubs"]
    assert returncode == 1, output[-3000:]
    assert {exercise_of(c) for c in cases} == set(EXERCISES), "every exercise should have grader tests"
    passing = [c for c, outcome in cases.items() if outcome != "failed"]
    assert not passing, f"these grader tests do not fail on the empty stubs: {passing}"
    assert f"0/{len(EXERCISES)} exercises pass" in output, output[-3000:]
    assert output.count("not written yet. hint:") == len(EXERCISES), output[-3000:]  # each stub's own hint


def test_a_missing_scale_fails_attention_only(graded):
    returncode, output, cases = graded["buggy"]
    assert returncode == 1, output[-3000:]
    failed = {exercise_of(c) for c, outcome in cases.items() if outcome == "failed"}
    assert failed == {"attention"}, output[-3000:]
    assert all(outcome == "passed" for c, outcome in cases.items() if exercise_of(c) != "attention")
    assert "FAIL  attention" in output and "not divided by sqrt(D)" in output, output[-3000:]
    assert f"{len(EXERCISES) - 1}/{len(EXERCISES)} exercises pass" in output, output[-3000:]


def functions(path: Path) -> dict:
    """Top-level functions of a file: name -> (signature, docstring, body)."""
    tree = ast.parse(path.read_text())
    return {f.name: (ast.unparse(f.args), ast.get_docstring(f), f.body[1:])
            for f in tree.body if isinstance(f, ast.FunctionDef)}


@pytest.mark.parametrize("name", list(EXERCISES))
def test_stub_and_solution_agree(name):
    stub, solution = STUBS / f"{name}.py", SOLUTIONS / f"{name}.py"
    assert stub.is_file() and solution.is_file() and (REPO_ROOT / "tests" / "exercises" / f"test_{name}.py").is_file()
    stub_fns, solution_fns = functions(stub), functions(solution)
    assert stub_fns.keys() == solution_fns.keys()
    for fn, (signature, doc, body) in stub_fns.items():
        assert (signature, doc) == solution_fns[fn][:2], f"{name}.py: {fn}'s signature or docstring differ"
        assert doc and len(body) == 1 and isinstance(body[0], ast.Raise), f"the stub {fn} should only raise"
        call = body[0].exc
        assert call.func.id == "NotImplementedError" and len(ast.literal_eval(call.args[0])) > 80, \
            f"the stub {fn} should raise NotImplementedError with a hint"
