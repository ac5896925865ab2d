"""Run lessons in order, each in its own process, stopping at the first failure.

    python -m lessons.run_course            # the main job: pretrain (04) -> freeze (06) -> prefix-tune (07)
    python -m lessons.run_course --all      # every lesson, 00 to 11
    python -m lessons.run_course --quick    # the same with --quick (about a minute per lesson)
    python -m lessons.run_course --overwrite  # again, replacing the models and prefixes an earlier run wrote

Each lesson prints its own progress and writes its plots to runs/<lesson>/ (runs/<lesson>_quick/ with --quick).
"""
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.run_course")

import argparse
import subprocess
import time
from pathlib import Path

LESSONS_DIR = Path(__file__).parent
MAIN_JOB = ["04_pretrain", "06_freeze", "07_prefix_tune"]


def all_lessons():
    return sorted(p.stem for p in LESSONS_DIR.glob("[0-9][0-9]_*.py"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every lesson, not only the main job")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every lesson")
    parser.add_argument("--only", nargs="+", help="these lessons, e.g. --only 04_pretrain 05_generate")
    parser.add_argument("--overwrite", action="store_true",
                        help="let the lessons replace the model and prefix files an earlier run left")
    args = parser.parse_args()
    lessons = args.only or (all_lessons() if args.all else MAIN_JOB)
    unknown = sorted(set(lessons) - set(all_lessons()))
    if unknown:
        raise SystemExit(f"no lesson named {unknown}; lessons are {all_lessons()}")
    times = {}
    for name in lessons:
        flags = (["--quick"] if args.quick else []) + (["--overwrite"] if args.overwrite else [])
        cmd = [sys.executable, "-m", f"lessons.{name}"] + flags
        print(f"\n{'=' * 80}\n$ python -m lessons.{name} {' '.join(flags)}\n{'=' * 80}", flush=True)
        t0 = time.perf_counter()
        result = subprocess.run(cmd)
        times[name] = time.perf_counter() - t0
        if result.returncode != 0:
            raise SystemExit(f"lesson {name} failed (exit code {result.returncode}); read its message above, then run "
                             f"it alone: python -m lessons.{name} {' '.join(flags)}".rstrip())
    print("\nall done:")
    for name, seconds in times.items():
        print(f"  {name:<20} {seconds / 60:5.1f} min   plots in runs/{name}{'_quick' if args.quick else ''}/")


if __name__ == "__main__":
    main()
