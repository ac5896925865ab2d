"""The command-line flags of the lessons, and the start they share, defined once.

    parser = lesson_parser(__doc__, base=True)      # --quick --seed --device --out --overwrite (--ckpt)
    add_prefix_flags(parser, steps=(300, 6), n_test=(500, 8))    # the prefix lessons' flags (07-11)
    args = parse_lesson_args(parser)
    out_dir, device, generator = start_lesson(parser, args, "07_prefix_tune", writes=["e2e.prefix.pt"])

A problem with a flag, the output folder, the device or the base ends the lesson with a one-line message that says
what to do (argparse's `error:` line), before any work. The library (minigpt/, prefix/) only raises errors; this
module turns them into those messages.
"""
import argparse
from dataclasses import fields
from pathlib import Path
from typing import NamedTuple

import torch

from minigpt.checkpoint import CheckpointError, describe_base, load_model
from minigpt.config import PRESETS, GPTConfig, preset
from minigpt.precision import DTYPES
from minigpt.tokenizer import load_tokenizer
from minigpt.train import TrainConfig
from minigpt.utils import RUNS_DIR, DeviceError, OutputDirError, check_output_dir, pick_device, set_seed
from prefix.prefix_tuning import POSITIONS

E2E_PREFIX_HELP = "lesson 07's table-to-text prefix (default runs/07_prefix_tune/e2e.prefix.pt)"


# -- the flags every lesson has ------------------------------------------------------------------------------------

def _positive(kind, what: str, example: str, zero_ok=False):
    """An argparse type: text -> a `kind` > 0 (>= 0 if zero_ok; finite); a bad value ends with argparse's one-line
    message."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not (0 <= value if zero_ok else 0 < value) or not value < float("inf"):
            raise argparse.ArgumentTypeError(f"{value} must be a {'non-negative' if zero_ok else 'positive'} number, "
                                             f"e.g. {example}")
        return value
    parse.__name__ = f"{'non_negative' if zero_ok else 'positive'}_{kind.__name__}"
    return parse


positive_int = _positive(int, "a whole number", "16")       # steps, batch sizes, lengths
positive_float = _positive(float, "a number", "1e-3")       # learning rates
non_negative_float = _positive(float, "a number", "0.5", zero_ok=True)  # weights that may be off


def lesson_parser(doc: str, base: bool = False) -> argparse.ArgumentParser:
    """The flags every lesson shares: --quick (a one-minute version), --seed, --device, --out;
    base=True adds --ckpt, the pretrained model a lesson starts from (default: the course base)."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0] if doc else None)
    if base:
        parser.add_argument("--ckpt", default=None,
                            help="the pretrained model (default: the course base, data/course_base/model.pt; "
                                 "your own from lesson 04: runs/04_pretrain/model.pt)")
    parser.add_argument("--quick", action="store_true", help="a tiny version that runs in under a minute")
    parser.add_argument("--seed", type=int, default=1337, help="seed for every random number (default 1337)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best one found)")
    parser.add_argument("--out", default=None,
                        help="folder for plots and checkpoints (default runs/<lesson>, runs/<lesson>_quick with --quick)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the model or prefix files an earlier run left in --out (otherwise refused)")
    return parser


def parse_lesson_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """parse_args that also works when a lesson runs cell by cell in Jupyter/VS Code (unknown kernel flags ignored)."""
    import sys

    if "ipykernel" in sys.modules:
        args, _ = parser.parse_known_args([])
    else:
        args = parser.parse_args()
    return args


# -- the start every lesson shares ---------------------------------------------------------------------------------

def lesson_output_dir(parser, args, lesson: str, writes=(), can_resume=False) -> Path:
    """The lesson's output folder (--out, or runs/<lesson>[_quick]), checked by check_output_dir; a problem ends the
    lesson with a one-line message (parser.error), before any work."""
    out = Path(args.out) if args.out else RUNS_DIR / (lesson + ("_quick" if getattr(args, "quick", False) else ""))
    try:
        return check_output_dir(out, writes, resume=getattr(args, "resume", False),
                                overwrite=getattr(args, "overwrite", False), can_resume=can_resume)
    except OutputDirError as e:
        parser.error(str(e))


class Start(NamedTuple):
    out_dir: Path
    device: torch.device
    generator: torch.Generator  # a CPU generator seeded with --seed, for the lesson's own random draws


def start_lesson(parser, args, lesson: str, writes=(), can_resume=False, uses_device=True, verbose=True) -> Start:
    """What every lesson does first, once its flags are read: check its output folder (runs/<lesson>, or --out),
    pick the device (cuda -> mps -> cpu unless --device; printed), and seed every generator with --seed.
    writes / can_resume: see check_output_dir. uses_device=False: a lesson that computes on the CPU only (device
    None). verbose=False: the device is not printed (lesson 4 prints it once per run, not once per process)."""
    out_dir = lesson_output_dir(parser, args, lesson, writes, can_resume)
    device = None
    if uses_device:
        try:
            device = pick_device(getattr(args, "device", None), verbose=verbose)
        except DeviceError as e:
            parser.error(str(e))
    return Start(out_dir, device, set_seed(args.seed))


def load_pretrained(path=None, device="cpu", attention=None):
    """The base a lesson starts from (None: the course base), or a one-line message that says what is wrong and the
    command that fixes it, instead of a traceback."""
    try:
        return load_model(path, device, attention)
    except (FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"error: {e}") from None


# -- pretraining flags (lesson 4): one per GPTConfig and TrainConfig field --------------------------------------

def yes_or_no(text: str) -> bool:
    """A true/false flag value: --bias false, --loss-only yes (bool("false") would be True)."""
    answers = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if text.lower() not in answers:
        raise argparse.ArgumentTypeError(f"{text!r}: use true or false")
    return answers[text.lower()]


def flag_type(default):
    """The argparse type of a dataclass field's flag: its default's type, and yes_or_no for a bool."""
    return yes_or_no if isinstance(default, bool) else type(default)


def add_config_args(parser, default_preset: str = "tiny") -> None:
    """Readable command-line overrides: --preset tiny --n-layer 6 --n-embd 384 ..."""
    parser.add_argument("--preset", default=default_preset, choices=sorted(PRESETS), help="model size preset")
    for f in fields(GPTConfig):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, dest=f"cfg_{f.name}", default=None, type=flag_type(f.default),
                            help=f"override GPTConfig.{f.name}")


def config_from_args(args, **fixed) -> GPTConfig:
    changes = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    return preset(args.preset, **{**changes, **fixed})



def add_train_args(parser: argparse.ArgumentParser, help_defaults: dict | None = None) -> None:
    """One flag per TrainConfig field: --steps 2000 --lr 3e-4 --betas 0.9 0.99 ... Unset flags stay None, so a
    lesson can tell them apart; it applies its own defaults with train_config_from_args(args, **defaults).
    help_defaults: only what --help says the default is, where the lesson's differs from TrainConfig's
    (e.g. {"steps": "--tokens / tokens per step"}); it sets nothing.
    A flag the parser already has (lesson_parser's --seed) is left as it is, and train_config_from_args reads it."""
    help_defaults = help_defaults or {}
    for f in fields(TrainConfig):
        default = help_defaults.get(f.name, f.default)
        flag = "--" + f.name.replace("_", "-")
        if flag in parser._option_string_actions:
            continue
        kwargs = dict(dest=f"train_{f.name}", default=None, metavar=f.name.upper(),
                      help=f"TrainConfig.{f.name} (default {default})")
        if f.name == "betas":
            kwargs.update(type=float, nargs=2, metavar=("BETA1", "BETA2"))
        elif f.name == "dtype":
            kwargs.update(choices=DTYPES, metavar=None,
                          help=f"fp32, bf16 autocast, or auto: the faster one here (default {default})")
        else:
            kwargs.update(type=flag_type(f.default))
        parser.add_argument(flag, **kwargs)


def train_config_from_args(args, **defaults) -> TrainConfig:
    """TrainConfig from add_train_args flags: a flag given on the command line beats `defaults`, which beat the
    dataclass defaults."""
    given = {}
    for f in fields(TrainConfig):
        value = getattr(args, f"train_{f.name}", getattr(args, f.name, None))  # --seed: the lesson's own flag
        if value is not None:
            given[f.name] = value
    return TrainConfig(**{**defaults, **given})


# -- the prefix lessons' flags (07-11) -----------------------------------------------------------------------------

def add_run_size_flags(parser, steps, n_test, what_steps="training steps per method", what_test="test inputs scored"):
    """--steps and --n-test; their defaults are (default, --quick) pairs, resolved by `resolve`."""
    parser.set_defaults(_defaults={"steps": steps, "n_test": n_test})
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"{what_steps} (default {steps[0]}; --quick {steps[1]})")
    parser.add_argument("--n-test", type=positive_int, default=None,
                        help=f"{what_test} (default {n_test[0]}; --quick {n_test[1]})")


def add_prefix_flags(parser, steps, n_test, lr_prefix=1e-2, lr_finetune=1e-3, what_steps="training steps per method",
                     what_test="test inputs scored", one_prefix=True):
    """--steps, --n-test (their defaults: (default, --quick) pairs, resolved by `resolve`), --prefix-len (14: the
    most that stays under 1% of the course base's parameters, and one P for every prefix lesson 10 serves together),
    --batch-size, --positions (after the prefix, as every prefix lesson), --lr-prefix and --lr-finetune.
    one_prefix=False (lesson 08, which sweeps P and keeps batch 16) leaves out --prefix-len and --batch-size."""
    add_run_size_flags(parser, steps, n_test, what_steps, what_test)
    if one_prefix:
        parser.add_argument("--prefix-len", type=positive_int, default=14,
                            help="P, for every prefix (the most that stays under 1%% of the course base's parameters)")
        parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--positions", choices=POSITIONS, default="after_prefix",
                        help="where real tokens are numbered: after the prefix (PEFT's rule, the default here) or from 0")
    parser.add_argument("--lr-prefix", type=positive_float, default=lr_prefix,
                        help=f"learning rate of the prefix (default {lr_prefix:g})")
    parser.add_argument("--lr-finetune", type=positive_float, default=lr_finetune,
                        help=f"learning rate of full fine-tuning (default {lr_finetune:g})")


def start_prefix_lesson(parser, args, lesson: str, writes=()):
    """start_lesson, then what every prefix lesson loads: the base (the course base unless --ckpt; described), the
    tokenizer, and the room left for real tokens in the base's context (P less under --positions after_prefix, where
    the prefix takes positions 0..P-1). -> (out_dir, device, base, enc, block_size)."""
    out_dir, device, _ = start_lesson(parser, args, lesson, writes)
    base = load_pretrained(args.ckpt, device)
    enc = load_tokenizer()
    block_size = base.config.block_size - (args.prefix_len if args.positions == "after_prefix" else 0)
    print(f"base: {describe_base(args.ckpt)}\n  {base.num_params():,} parameters")
    return out_dir, device, base, enc, block_size


def resolve(args, name):
    """The value of --steps or --n-test: the one given, else the default for this run (--quick or not)."""
    given = getattr(args, name)
    default, quick = args._defaults[name]
    return given if given is not None else (quick if args.quick else default)
