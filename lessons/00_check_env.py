"""Lesson 0: check the environment before the first lesson. Prints OK or FAIL per check, and the fix for each FAIL.

Run it from the repo root:

    python -m lessons.00_check_env           # a few seconds
    python -m lessons.00_check_env --quick   # the same checks (they are quick already)

It writes nothing. Exit code 0 when every check passes, 1 otherwise (INFO lines never fail).
"""
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.00_check_env")

import io
import os
import platform
import re
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO_ROOT / "requirements.txt"
OPTIONAL_REQUIREMENTS = REPO_ROOT / "requirements-hf.txt"  # lesson 11 only
INSTALL_ALL = "pip install -r requirements.txt"
MIN_PYTHON = (3, 10)


def read_requirements(path=REQUIREMENTS):
    """requirements.txt -> [(name, pinned version or None)]; comments and blank lines skipped."""
    reqs = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(?:==\s*([^\s;]+))?.*", line)
        if match:
            reqs.append((match.group(1), match.group(2)))
    return reqs


def check_python():
    version = platform.python_version()
    if sys.version_info[:2] >= MIN_PYTHON:
        return "OK", f"Python {version}", None
    need = ".".join(map(str, MIN_PYTHON))
    return "FAIL", f"Python {version}, the course needs {need} or newer", \
        f"install Python {need}+ and make a fresh venv: python3 -m venv .venv && .venv/bin/{INSTALL_ALL}"


def check_package(name, pinned):
    """Version from the installed metadata: no import, so a 2-second torch import is not paid per check."""
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return "FAIL", f"{name} is not installed", f"pip install {name}=={pinned}" if pinned else INSTALL_ALL
    if pinned and version.split("+")[0] != pinned:  # "2.13.0+cpu" is the pinned 2.13.0
        return "FAIL", f"{name} {version}, the course pins {pinned}", f"pip install {name}=={pinned}"
    return "OK", f"{name} {version}", None


def check_optional(path=OPTIONAL_REQUIREMENTS):
    """The optional Hugging Face packages of lesson 11: INFO, never a FAIL (the rest of the course works without)."""
    missing = [name for name, pinned in read_requirements(path) if check_package(name, pinned)[0] != "OK"]
    if missing:
        return "INFO", f"optional, for lesson 11: {', '.join(missing)} missing or not the pinned version " \
                       f"(pip install -r {path.name})", None
    return "INFO", f"optional, for lesson 11: {', '.join(n for n, _ in read_requirements(path))} installed", None


def check_device(prefer):
    from minigpt.utils import pick_device

    try:
        device = pick_device(prefer, verbose=False)
    except SystemExit as e:  # pick_device exits with an explanation when --device names a missing one
        return "FAIL", f"device {prefer}: not available", str(e)
    return "OK", f"device: {device}", None


def check_threads():
    import torch

    cores = os.cpu_count()
    return "INFO", f"torch uses {torch.get_num_threads()} CPU threads ({cores} cores seen)", None


def check_reviews():
    from data.reviews import PIP_COMMAND, reviews_csv_path

    try:
        path = reviews_csv_path()
    except (ModuleNotFoundError, FileNotFoundError):
        return "FAIL", "movie reviews CSV not found", PIP_COMMAND
    return "OK", f"movie reviews CSV: {path.stat().st_size / 1e6:.0f} MB", None


def check_tokenizer():
    from minigpt.tokenizer import TRAIN_COMMAND, load_tokenizer

    try:
        enc = load_tokenizer()
    except (OSError, ValueError) as e:  # missing or damaged file
        return "FAIL", f"course tokenizer: {str(e).splitlines()[0][:120]}", TRAIN_COMMAND
    sample = "This movie was great."
    if enc.decode(enc.encode_ordinary(sample)) != sample:
        return "FAIL", "course tokenizer does not round-trip text", TRAIN_COMMAND
    return "OK", f"course tokenizer: {enc.n_vocab:,} tokens", None


def check_plotting():
    import matplotlib

    matplotlib.use("Agg")  # lessons write PNG files; no window needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    ax.plot([0, 1], [0, 1])
    buffer = io.BytesIO()  # into memory: the check writes nothing to disk
    fig.savefig(buffer, format="png")
    plt.close(fig)
    if not buffer.getvalue().startswith(b"\x89PNG"):
        return "FAIL", "matplotlib wrote no PNG", "pip install --force-reinstall matplotlib"
    return "OK", f"matplotlib {matplotlib.__version__} writes PNG files (Agg)", None


def check_bf16(prefer):
    """Informational: many CPUs emulate bf16 (slower than fp32); `--dtype auto` in lesson 4 picks the faster one."""
    from contextlib import redirect_stdout

    from minigpt.precision import pick_dtype
    from minigpt.utils import pick_device

    try:
        device = pick_device(prefer, verbose=False)
    except SystemExit:  # --device names a missing device: the device check already failed and says why
        return "INFO", "training dtype: not checked (no such device)", None
    printed = io.StringIO()
    with redirect_stdout(printed):  # pick_dtype prints "dtype: fp32 (why)"; we reuse its reason
        choice = pick_dtype(device)
    why = printed.getvalue().strip().partition("(")[2].rstrip(")")
    return "INFO", f"training dtype with --dtype auto: {choice}" + (f" ({why})" if why else ""), None


def run_check(check, *args):
    """(status, message, fix); an unexpected error is a FAIL that names it, never a traceback."""
    try:
        return check(*args)
    except ModuleNotFoundError as e:  # e.g. torch missing: every check that needs it fails the same way
        return "FAIL", f"{check.__name__.removeprefix('check_')}: {e}", INSTALL_ALL
    except Exception as e:
        return "FAIL", f"{check.__name__.removeprefix('check_')}: {type(e).__name__}: {e}", INSTALL_ALL


def main(argv=None):
    # lesson_parser lives in minigpt.utils, which imports torch: a missing torch must still get a clean report
    try:
        from lessons.flags import lesson_parser, parse_lesson_args

        args = parse_lesson_args(lesson_parser(__doc__)) if argv is None else lesson_parser(__doc__).parse_args(argv)
        device = args.device
    except ModuleNotFoundError:
        device = None

    checks = [(check_python,)] + [(check_package, name, pinned) for name, pinned in read_requirements()]
    checks += [(check_device, device), (check_threads,), (check_reviews,), (check_tokenizer,),
               (check_plotting,), (check_bf16, device), (check_optional,)]
    n_fail = 0
    for check, *check_args in checks:
        status, message, fix = run_check(check, *check_args)
        print(f"{status:<4}  {message}", flush=True)
        if status == "FAIL":
            n_fail += 1
            print(f"      fix: {fix}")
    print(f"\n{n_fail} check(s) failed: fix them top to bottom, then run this again." if n_fail
          else "\nAll checks passed: start with `python -m lessons.01_tokenizer`.")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
