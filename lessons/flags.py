"""The command-line flags the prefix lessons (07-11) share, defined once. minigpt.utils.lesson_parser has the flags
of every lesson (--quick, --seed, --device, --out, --overwrite, --ckpt)."""
from minigpt.checkpoint import describe_base, load_pretrained
from minigpt.tokenizer import load_tokenizer
from minigpt.utils import pick_device, positive_float, positive_int, set_seed
from prefix.prefix_tuning import POSITIONS

E2E_PREFIX_HELP = "lesson 07's table-to-text prefix (default runs/07_prefix_tune/e2e.prefix.pt)"


def add_prefix_flags(parser, steps, n_test, lr_finetune=1e-3, what_steps="training steps per method",
                     what_test="test inputs scored", one_prefix=True):
    """--steps, --n-test (their defaults: (default, --quick) pairs, resolved by `resolve`), --prefix-len (14: the
    most that stays under 1% of the course base's parameters, and one P for every prefix lesson 10 serves together),
    --batch-size, --positions (after the prefix, as every prefix lesson), --lr-prefix and --lr-finetune.
    one_prefix=False (lesson 08, which sweeps P and keeps batch 16) leaves out --prefix-len and --batch-size."""
    parser.set_defaults(_defaults={"steps": steps, "n_test": n_test})
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"{what_steps} (default {steps[0]}; --quick {steps[1]})")
    parser.add_argument("--n-test", type=positive_int, default=None,
                        help=f"{what_test} (default {n_test[0]}; --quick {n_test[1]})")
    if one_prefix:
        parser.add_argument("--prefix-len", type=positive_int, default=14,
                            help="P, for every prefix (the most that stays under 1%% of the course base's parameters)")
        parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--positions", choices=POSITIONS, default="after_prefix",
                        help="where real tokens are numbered: after the prefix (PEFT's rule, the default here) or from 0")
    parser.add_argument("--lr-prefix", type=positive_float, default=1e-2)
    parser.add_argument("--lr-finetune", type=positive_float, default=lr_finetune)


def start_prefix_lesson(args):
    """The start every prefix lesson shares once its flags are read: device (printed), seeds, the base (the course
    base unless --ckpt; described), the tokenizer, and the room left for real tokens in the base's context (P less
    under --positions after_prefix, where the prefix takes positions 0..P-1). -> (device, base, enc, block_size)."""
    device = pick_device(args.device)
    set_seed(args.seed)
    base = load_pretrained(args.ckpt, device)
    enc = load_tokenizer()
    block_size = base.config.block_size - (args.prefix_len if args.positions == "after_prefix" else 0)
    print(f"base: {describe_base(args.ckpt)}\n  {base.num_params():,} parameters")
    return device, base, enc, block_size


def resolve(args, name):
    """The value of --steps or --n-test: the one given, else the default for this run (--quick or not)."""
    given = getattr(args, name)
    default, quick = args._defaults[name]
    return given if given is not None else (quick if args.quick else default)
