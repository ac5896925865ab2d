"""The bridge to transformers and PEFT (minigpt/hf.py, prefix/peft_export.py): an implementation nobody here wrote
computes the same numbers. Skipped where the optional packages (requirements-hf.txt) are not installed."""
import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from minigpt import GPT, generate, preset  # noqa: E402
from minigpt.hf import export_gpt2, gpt2_config, import_gpt2, minigpt_config, to_gpt2  # noqa: E402


def random_model(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    model = GPT(preset("nano", vocab_size=97, block_size=32)).to(dtype).eval()
    with torch.no_grad():  # biases and LayerNorms away from their init, so a swapped one shows
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name or name.startswith("ln_f"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_gpt2_computes_the_same_logits(dtype, tol):
    model = random_model(dtype)
    hf = to_gpt2(model)
    idx = torch.randint(0, 97, (3, 20))
    assert (model(idx).logits - hf(idx).logits).abs().max().item() < tol


def test_export_then_from_pretrained_then_import_round_trip(tmp_path):
    model = random_model(torch.float32)
    folder = export_gpt2(model, tmp_path / "gpt2")
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    hf = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    idx = torch.randint(0, 97, (2, 12))
    assert (model(idx).logits - hf(idx).logits).abs().max().item() < 1e-5
    ours = generate(model, idx, 10, temperature=0)
    theirs = hf.generate(idx, max_new_tokens=10, do_sample=False, pad_token_id=96, attention_mask=torch.ones_like(idx))
    assert torch.equal(ours, theirs)  # the same greedy tokens
    back = import_gpt2(folder)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))


def test_configs_gpt2_cannot_express_are_refused_clearly():
    with pytest.raises(ValueError, match="bias=False"):
        gpt2_config(preset("nano", bias=False))
    for change, match in ((dict(activation_function="gelu_new"), "activation_function"),
                          (dict(tie_word_embeddings=False), "tie_word_embeddings"), (dict(n_inner=100), "n_inner")):
        hf_config = gpt2_config(preset("nano"))
        for k, v in change.items():
            setattr(hf_config, k, v)
        with pytest.raises(ValueError, match=match):
            minigpt_config(hf_config)


def test_import_of_a_missing_folder_says_what_to_give(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        import_gpt2(tmp_path)


peft = pytest.importorskip("peft")
from prefix import PrefixedGPT, PrefixTuning, PromptTuning  # noqa: E402
from prefix.peft_export import export_peft  # noqa: E402


def trained_looking(prefix, seed=1):
    """Random prefix numbers of a realistic size (a fresh matrix is nearly zero)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in prefix.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return prefix


@pytest.mark.parametrize("kind", ["prefix", "prompt"])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_a_peft_adapter_gives_the_courses_logits(tmp_path, kind, dtype, tol):
    base = random_model(dtype)
    make = (lambda: PrefixTuning(base.config, 5, reparam="matrix", positions="after_prefix")) if kind == "prefix" \
        else (lambda: PromptTuning(base.config, 5, positions="after_prefix"))
    prefix = trained_looking(make()).to(dtype)
    ours = PrefixedGPT(base, prefix).eval()
    base_folder = export_gpt2(base, tmp_path / "gpt2")
    export_peft(prefix, tmp_path / "adapter", base_folder)
    hf = transformers.GPT2LMHeadModel.from_pretrained(base_folder, dtype=dtype)
    adapted = peft.PeftModel.from_pretrained(hf, tmp_path / "adapter").eval()
    idx = torch.randint(0, 97, (2, 9))
    theirs = adapted(input_ids=idx, attention_mask=torch.ones_like(idx)).logits[:, -idx.size(1):]  # prompt: P+T rows
    assert (ours(idx).logits - theirs).abs().max().item() < tol


def test_the_mlp_prefix_exports_its_folded_table_and_generates_the_same(tmp_path):
    base = random_model(torch.float32)
    prefix = trained_looking(PrefixTuning(base.config, 4, reparam="mlp", hidden=16, positions="after_prefix"))
    ours = PrefixedGPT(base, prefix).eval()
    export_peft(prefix, tmp_path / "adapter")
    adapted = peft.PeftModel.from_pretrained(to_gpt2(base), tmp_path / "adapter").eval()
    idx = torch.randint(0, 97, (1, 6))
    mine = ours.generate(idx, 8, temperature=0)
    theirs = adapted.generate(input_ids=idx, attention_mask=torch.ones_like(idx), max_new_tokens=8, do_sample=False,
                              pad_token_id=96)
    assert torch.equal(mine, theirs[:, -mine.size(1):])


def test_a_from_zero_prefix_warns_that_peft_numbers_positions_otherwise(tmp_path):
    base = random_model(torch.float32)
    with pytest.warns(UserWarning, match="numbers its real tokens from 0"):
        export_peft(PrefixTuning(base.config, 3, positions="from_zero"), tmp_path / "adapter")


def test_the_tokenizer_json_gives_the_same_ids_on_the_lessons_texts(tmp_path):
    import random

    from data.e2e import load_e2e
    from data.reviews import imdb_reviews, rotten_tomatoes_split
    from data.web import web_texts
    from minigpt.hf import export_tokenizer
    from minigpt.tokenizer import load_tokenizer
    enc = load_tokenizer()
    fast = transformers.PreTrainedTokenizerFast.from_pretrained(export_tokenizer(enc, tmp_path / "tok"))
    texts = [t for t, _ in imdb_reviews("val")[:200]] + [s for s, _ in rotten_tomatoes_split()["test"][:200]]
    texts += web_texts(200, seed=5) + web_texts(100, seed=6, listings=0.5)
    texts += [f"{r['source']} {r['target']}" for r in load_e2e("train")[:200]]
    rng = random.Random(0)
    texts += ["  two  spaces,\ttabs\nand newlines\n\n", "café £20-25 naïve 1999's",
              "".join(chr(rng.randint(32, 0x24F)) for _ in range(300))]
    for text in texts:
        assert fast(text)["input_ids"] == enc.encode_ordinary(text), text[:80]
        assert fast.decode(enc.encode_ordinary(text)) == text
    assert fast.convert_tokens_to_ids("<|endoftext|>") == enc.eot_token
