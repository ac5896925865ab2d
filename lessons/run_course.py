"""Run lessons in order, each in its own process, stopping at the first failure.

    python -m lessons.run_course            # the main job: pretrain (04) -> freeze (06) -> prefix-tune (07)
    python -m lessons.run_course --all      # every lesson, 00 to 09
    python -m lessons.run_course --quick    # the same with --quick (about a minute per lesson)

Each lesson prints its own progress and writes its plots to runs/<lesson>/.
"""
import argparse
import subprocess
import sys
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
    args = parser.parse_args()
    lessons = args.only or (all_lessons() if args.all else MAIN_JOB)
    unknown = sorted(set(lessons) - set(all_lessons()))
    if unknown:
        raise SystemExit(f"no lesson named {unknown}; lessons are {all_lessons()}")
    times = {}
    for name in lessons:
        cmd = [sys.executable, "-m", f"lessons.{name}"] + (["--quick"] if args.quick else [])
        print(f"\n{'=' * 80}\n$ python -m lessons.{name}{' --quick' if args.quick else ''}\n{'=' * 80}", flush=True)
        t0 = time.perf_counter()
        result = subprocess.run(cmd)
        times[name] = time.perf_counter() - t0
        if result.returncode != 0:
            raise SystemExit(f"lesson {name} failed (exit code {result.returncode}); fix it and run it alone: "
                             f"python -m lessons.{name}")
    print("\nall done:")
    for name, seconds in times.items():
        print(f"  {name:<20} {seconds / 60:5.1f} min   plots in runs/{name}/")


if __name__ == "__main__":
    main()
