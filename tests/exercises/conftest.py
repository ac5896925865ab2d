"""The exercise grader: checks students' files against the library (minigpt, prefix).

    python -m pytest tests/exercises --exercises path/to/student_folder    # every exercise
    python -m pytest tests/exercises --exercises path/to/attention.py      # one file; the others are skipped

Without --exercises it grades lessons/solutions, the reference answers (that is what CI runs).
A folder must hold the files under the names in lessons/exercises/; a single file is matched by its name.
At the end it prints one PASS/FAIL line per exercise, with the first failure and a hint.
"""
import importlib.util
import signal
import textwrap
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "lessons" / "solutions"

# name (= file name and test_<name>.py) -> (lesson, what to check first when it fails)
EXERCISES = {
    "bpe_merge": ("01", "overlapping pairs ([5, 5, 5]) and a pair's first half at the very end are the usual traps."),
    "attention": ("02", "compare your steps with lesson 02's: scale, mask before the softmax, softmax over the keys."),
    "causal_mask": ("02", "print your mask for T=3, P=2 next to minigpt's causal_mask(3, 2); slots come first."),
    "top_k": ("05", "work per row; keep ties with the k-th value; temperature 0 is greedy; pass the generator on."),
    "kv_cache": ("05", "new tokens must get the positions they have in the full text; slots have no position."),
    "prefix_forward": ("06", "the hand-worked test fills the table with 1000·row + column: see what lands where."),
    "loss_mask": ("07", "write x and y by hand for a 2-token source and a 1-token target, then compare."),
}

# The session's state, reset in pytest_configure.
_results = {}  # exercise -> [(test name, outcome, first line of its failure)]
_collected = [0]  # tests collected in the whole session, grader or not
_modules = {}  # path -> the loaded module, or the exception its import raised
_timed_out = set()  # grader test files in which a test ran out of time


def pytest_addoption(parser):
    parser.addoption(
        "--exercises", default=None, metavar="PATH",
        help="a folder of student exercise files (attention.py, causal_mask.py, ...) or one such file; "
             "default lessons/solutions. Use with `python -m pytest tests/exercises`.")


def target(config) -> Path:
    # default=None: when pytest starts from the repo root this conftest is read late, after the options.
    given = config.getoption("exercises", default=None)
    return Path(given).resolve() if given else DEFAULT_PATH


def pytest_configure(config):
    for state in (_results, _modules, _timed_out):  # a fresh start when one process runs several gradings (pytest.main)
        state.clear()
    _collected[0] = 0
    if config.getoption("exercises", default=None) and config.option.tbstyle == "auto":
        config.option.tbstyle = "short"  # grading: the failing line and the message, not screens of tensors
    path = target(config)
    if not path.exists():
        raise pytest.UsageError(f"--exercises {path}: no such file or folder.")
    if path.is_file() and path.stem not in EXERCISES:
        raise pytest.UsageError(f"--exercises {path}: a single file must be named after its exercise, "
                                f"one of: {', '.join(n + '.py' for n in EXERCISES)}.")


def load(path: Path):
    """Import a student's file by its path (no sys.path changes), once per session."""
    if path not in _modules:
        spec = importlib.util.spec_from_file_location(f"exercise_{path.stem}_{len(_modules)}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            _modules[path] = module
        except Exception as e:  # a syntax error in a student's file fails that exercise only
            _modules[path] = e
    found = _modules[path]
    if isinstance(found, Exception):
        pytest.fail(f"could not import {path}: {type(found).__name__}: {found}", pytrace=False)
    return found


TIME_LIMIT_S = 5  # a correct answer needs milliseconds; an endless loop also eats memory, so not much more


@pytest.fixture(autouse=True)
def time_limit(request):
    """Stop a student's endless loop (a while loop that never advances) instead of hanging the whole grading."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield  # Windows has no alarm signal: no limit there
        return

    def stop(signum, frame):
        _timed_out.add(request.module.__file__)
        raise TimeoutError(f"took more than {TIME_LIMIT_S} s: is there a loop that never ends?")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(TIME_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def ex(request):
    """The student's module for the exercise of this test file: test_attention.py grades attention.py."""
    name = Path(request.module.__file__).stem.removeprefix("test_")
    if request.module.__file__ in _timed_out:  # one endless loop is enough: do not wait for it again
        pytest.fail(f"not run: an earlier {name} test took more than {TIME_LIMIT_S} s", pytrace=False)
    path = target(request.config)
    if path.is_file():
        if path.stem != name:
            pytest.skip(f"only {path.name} was handed in")
        return load(path)
    file = path / f"{name}.py"
    if not file.is_file():
        pytest.fail(f"{file} is missing: the folder should hold {name}.py (copy it from lessons/exercises/).",
                    pytrace=False)
    return load(file)


def _exercise_of(nodeid: str):
    stem = Path(nodeid.split("::")[0]).stem  # tests/exercises/test_attention.py::... -> test_attention
    name = stem.removeprefix("test_")
    return name if name in EXERCISES else None


def _first_line(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.strip().splitlines()[0] if text.strip() else ""


def pytest_collection_modifyitems(items):
    _collected[0] = len(items)


def pytest_runtest_logreport(report):
    name = _exercise_of(report.nodeid)
    if name is None or not (report.when == "call" or report.outcome != "passed"):
        return  # one entry per test: its call, or the setup/teardown that failed or skipped it
    test = report.nodeid.split("::", 1)[1]
    _results.setdefault(name, []).append((test, report.outcome, _first_line(report) if report.failed else ""))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, config):
    yield  # print after pytest's own summary, so the table is the last thing a teacher sees
    if not _results:
        return
    failed = any(outcome == "failed" for rows in _results.values() for _, outcome, _ in rows)
    others_ran = _collected[0] > sum(len(rows) for rows in _results.values())
    if others_ran and not failed and config.getoption("exercises", default=None) is None:
        return  # a full CI run in which the reference answers pass: the table would only be noise

    def write(text, **markup):
        terminalreporter.write_line(textwrap.fill(text, 110, subsequent_indent=" " * 10), **markup)

    terminalreporter.write_sep("=", f"exercise grades: {target(config)}")
    graded = passing = 0
    skipped = []
    for name, (lesson, hint) in EXERCISES.items():
        rows = _results.get(name)
        if not rows:
            continue
        if all(outcome == "skipped" for _, outcome, _ in rows):
            skipped.append(name)  # a single-file hand-in: the other exercises are not graded
            continue
        n_passed = sum(outcome == "passed" for _, outcome, _ in rows)
        ok = all(outcome != "failed" for _, outcome, _ in rows)
        graded, passing = graded + 1, passing + ok
        write(f"{'PASS' if ok else 'FAIL'}  {name:<15} lesson {lesson}  {n_passed}/{len(rows)} tests passed",
              green=ok, red=not ok)
        if ok:
            continue
        test, _, why = next(row for row in rows if row[1] == "failed")
        write(f"      first failure: {test}")
        if why.startswith("NotImplementedError"):  # an untouched stub: its own hint says where to start
            write(f"      not written yet. hint: {why.removeprefix('NotImplementedError: ')}")
        elif why.startswith("Failed: "):  # the file is missing or does not import: no hint can help yet
            write(f"      {why.removeprefix('Failed: ')}")
        else:
            write(f"      {why.removeprefix('AssertionError: ')}")
            write(f"      hint: {hint}")
    if skipped:
        write(f"not handed in (skipped): {', '.join(skipped)}")
    write(f"{passing}/{graded} exercises pass", bold=True)
