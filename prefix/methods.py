"""The three methods the prefix lessons compare (07-11): build a model for a method, train it, measure its step, score it.

Methods compared, all trained by the same loop (minigpt.train):
    "prefix"   per-layer keys/values (Li & Liang), through the MLP while training, folded after
    "prompt"   soft tokens at the input only (Lester et al.): the paper's embedding-only ablation
    "finetune" every weight of a copy of the base: the baseline
"""
import copy

import torch
import torch.nn.functional as F

from minigpt.train import TrainConfig, train
from minigpt.utils import time_in_turns

from .freeze import count_params
from .metrics import attribute_error_by_key, attribute_error_rate, corpus_bleu, rouge_l
from .prefix_tuning import PrefixTuning
from .prompt_tuning import PromptTuning
from .pairs import generate_targets
from .prefixed import PrefixedGPT

METHODS = ("prefix", "prompt", "finetune")
INITS = ("example", "task", "random")
# The paper's real-word init: the keys/values the frozen model gives words that describe the task.
TASK_WORDS = " Describe the restaurant: name, food, price, rating, area and what is near."


def init_token_ids(enc, init, example=None):
    """The tokens whose keys/values start a prefix: init "task" (task words), "example" (a real training example,
    source plus target and <|endoftext|>: the paper's real-word init taken to a whole demonstration) or "random"
    (None). A prefix takes their last P tokens (prefix_tuning.PrefixTuning.init_from_tokens)."""
    if init not in INITS:
        raise ValueError(f"init={init!r}: choose one of {INITS}.")
    if init == "random":
        return None
    if init == "task":
        return enc.encode_ordinary(TASK_WORDS)
    if example is None:
        raise ValueError('init="example" needs an example: a (source, target) pair from the training set.')
    source, target = example
    return enc.encode_ordinary(f"{source} {target}") + [enc.eot_token]


def build_tuned(base, method, prefix_len=10, reparam="mlp", hidden=512, dropout=0.0, init_ids=None, init_steps=300,
                positions="from_zero"):
    """-> a module whose forward(idx, targets, attention_mask) trains only what `method` trains.
    positions: where a prefix numbers the real tokens (prefix.prefix_tuning.POSITIONS)."""
    device = next(base.parameters()).device
    if method == "finetune":
        model = copy.deepcopy(base)  # the base itself stays untouched for the other methods
        for p in model.parameters():
            p.requires_grad_(True)
        return model.train()
    if method == "prefix":
        prefix = PrefixTuning(base.config, prefix_len, reparam=reparam, hidden=hidden, dropout=dropout,
                              positions=positions)
    elif method == "prompt":
        prefix = PromptTuning(base.config, prefix_len, positions=positions)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}.")
    prefix = prefix.to(device)
    if init_ids is not None:
        init_ids = list(init_ids) * -(-prefix_len // len(init_ids))  # P longer than the text: repeat the text
        prefix.init_from_tokens(base, init_ids, steps=init_steps)
    return PrefixedGPT(base, prefix).train()


def stored_params(model):
    """What has to be kept per task after training: the folded prefix, or every weight for fine-tuning."""
    if isinstance(model, PrefixedGPT):
        return sum(p.numel() for p in model.prefix.folded().parameters())
    return sum(p.numel() for p in model.parameters())


def _training_step(model, batch):
    """-> step(): one forward, backward and AdamW step on `batch`, with lr 0 (does the work, changes nothing), the
    loss alone as the methods train (loss_only)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.0)

    def step():  # time_in_turns() waits for a GPU to finish before it reads the clock
        model(*batch, loss_only=True).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def step_memory(model, batch):
    """An estimate of the memory one training step needs, in bytes (for its time, see step_times_side_by_side).

    Memory = weights + gradients + AdamW state (2 per trainable weight) + activations saved for backward.
    The saved activations are counted exactly by a hook; on CUDA the allocator's peak is used instead.
    """
    saved = 0
    weight_ptrs = {p.data_ptr() for p in model.parameters()}

    def pack(t):  # called for every tensor autograd keeps for the backward pass
        nonlocal saved
        if t.data_ptr() not in weight_ptrs:  # weights are already counted once
            saved += t.numel() * t.element_size()
        return t

    device = batch[0].device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(*batch, loss_only=True).loss  # the step as the methods train it
    loss.backward()
    model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    weights = sum(p.numel() * p.element_size() for p in {id(p): p for p in model.parameters()}.values())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return weights + 3 * trainable + saved


def step_times_side_by_side(models, batch, rounds=10):
    """{name: median seconds per training step}, the models taking turns step by step on the same batch.

    Taking turns means a busy moment of the machine, or the warm-up of a fresh process, hits every method alike,
    so the ratios are fair even when the absolute times are noisy.
    """
    steps = {name: _training_step(model, batch) for name, model in models.items()}
    return time_in_turns(steps, rounds, warmup=1, device=batch[0].device)  # the warm-up step allocates AdamW's state


def evaluate_e2e(model, enc, rows, max_new_tokens=64, batch_size=64):
    """Greedy outputs for the test rows, scored: BLEU-4 and ROUGE-L against all references, attribute error rate.
    The model is left in the mode it came in (a frozen base stays in eval mode)."""
    training = model.training
    model.eval()
    outputs = generate_targets(model, enc, [r["source"] for r in rows], max_new_tokens, batch_size)
    model.train(training)
    refs = [r["references"] for r in rows]
    return {
        "bleu": corpus_bleu(outputs, refs),
        "rouge_l": rouge_l(outputs, refs),
        "attribute_error": attribute_error_rate(outputs, [list(r["attribute_forms"].values()) for r in rows]),
        "attribute_error_by_key": attribute_error_by_key(outputs, [r["attribute_forms"] for r in rows]),
        "outputs": outputs,
    }


@torch.no_grad()
def repeat_losses(model, rows=16, length=40, seed=0):
    """Can the model copy? -> (loss on the first copy, loss on the second copy) of random token runs said twice.

    The second copy is fully predictable from the first. A model with an "induction" mechanism (find where the
    current token occurred before, predict what followed it there) gets its loss on it near 0; a model without one
    is as unsure the second time as the first. Mean cross-entropy per predicted token, in nats.
    """
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    run = torch.randint(1, model.config.vocab_size - 1, (rows, length), generator=g)  # ids 0 and eot never used
    idx = torch.cat([run, run], dim=1).to(device)  # (rows, 2·length)
    was_training = model.training
    model.eval()
    logits = model(idx).logits
    model.train(was_training)
    loss = F.cross_entropy(logits[:, :-1].transpose(1, 2), idx[:, 1:], reduction="none")  # (rows, 2·length - 1)
    # position t predicts token t+1: the first copy is predicted at 0..length-2, the second at length..2·length-2
    return loss[:, :length - 1].mean().item(), loss[:, length:].mean().item()


def name_copy_rate(model, enc, sources, names):
    """-> (share of sources whose greedy continuation contains its name, [(source, output), ...]).

    The names are ones the output can only get right by reading its source: made-up names and titles
    (data.web.unseen_web_records), or restaurant names after keys the model never saw (data.e2e.copy_check_sources).
    """
    outputs = generate_targets(model, enc, sources, max_new_tokens=24)
    return sum(name in out for name, out in zip(names, outputs)) / len(sources), list(zip(sources, outputs))


def param_summary(model, base):
    """Trainable while training, stored after training, and both as % of the base."""
    trainable = count_params(model).trainable
    stored = stored_params(model)
    n = base.num_params()
    return {"trainable": trainable, "trainable_pct": 100 * trainable / n, "stored": stored, "stored_pct": 100 * stored / n}


def train_method(base, method, batches, steps, lr, batch_size=16, prefix_len=10, reparam="mlp", init_ids=None,
                 seed=0, eval_every=None, eval_batches=10, progress=True, hidden=512, dtype="fp32",
                 positions="from_zero", init_steps=300):
    """Build one method's model on the base and train it with the course loop -> (model in eval mode, history).

    Every method gets the same loop, batches and step budget; only the learning rate differs (sweep it).
    Weight decay only for fine-tuning: pulling a prefix toward zero is not a neutral prior (a zero prefix
    still takes attention).
    """
    torch.manual_seed(seed)
    model = build_tuned(base, method, prefix_len=prefix_len, reparam=reparam, hidden=hidden,
                        init_ids=None if method == "finetune" else init_ids, positions=positions,
                        init_steps=init_steps)
    cfg = method_train_config(method, steps, lr, batch_size, seed, eval_every, eval_batches, dtype)
    history = train(model, batches, cfg, progress=progress)
    return model.eval(), history


def method_train_config(method, steps, lr, batch_size=16, seed=0, eval_every=None, eval_batches=10, dtype="fp32"):
    """The loop's settings for one method: a 10% warmup, weight decay for fine-tuning only, and logits only where a
    target is (loss_only: a pair's source and padding are -100, about 60% of the positions of a table-to-text batch).
    (A 5% warmup, 5 steps of a 100-step run, let a prefix at lr 1e-2 diverge in 4 of lesson 8's 33 runs.)"""
    return TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=max(1, steps // 10),
                       weight_decay=0.1 if method == "finetune" else 0.0, eval_every=eval_every or max(1, steps // 5),
                       eval_batches=eval_batches, seed=seed, dtype=dtype, loss_only=True)


def run_method(base, enc, method, batches, test_rows, steps, lr, batch_size=16, prefix_len=10, reparam="mlp",
               init_ids=None, seed=0, eval_every=None, eval_batches=10, progress=True, measure=True,
               hidden=512, dtype="fp32", positions="from_zero", max_new_tokens=64, init_steps=300):
    """Build, measure, train and score one method on table-to-text. Returns (model, result dict, history).

    The same build and loop settings as train_method; measure=False skips step_memory (memory_bytes is then None).
    """
    torch.manual_seed(seed)
    model = build_tuned(base, method, prefix_len=prefix_len, reparam=reparam, hidden=hidden,
                        init_ids=None if method == "finetune" else init_ids, positions=positions,
                        init_steps=init_steps)
    params = param_summary(model, base)
    memory = step_memory(model, batches("train", 0)) if measure else None
    cfg = method_train_config(method, steps, lr, batch_size, seed, eval_every, eval_batches, dtype)
    history = train(model, batches, cfg, progress=progress)
    scores = evaluate_e2e(model, enc, test_rows, max_new_tokens=max_new_tokens)
    result = {"method": method, **params, "memory_bytes": memory,
              "final_val_loss": history["eval_val_loss"][-1] if history["eval_val_loss"] else None, **scores}
    return model, result, history
