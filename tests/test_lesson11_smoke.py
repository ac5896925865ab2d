"""Lesson 11 end to end in its --quick form: the course base as GPT-2, the tokenizer as tokenizer.json, a prefix as
a PEFT adapter, all agreeing with minigpt. Skipped without the optional packages (requirements-hf.txt)."""
import json

import pytest

from .conftest import assert_pngs, run_lesson

pytest.importorskip("transformers")
pytest.importorskip("peft")
pytestmark = pytest.mark.lessons


def test_lesson11_quick(tmp_path):
    out = tmp_path / "out"
    stdout = run_lesson("lessons.11_wider_world", "--quick", "--out", out, "--e2e-prefix", tmp_path / "missing.pt")
    assert_pngs(out, ["positions.png"])
    assert (out / "gpt2" / "model.safetensors").is_file() and (out / "tokenizer" / "tokenizer.json").is_file()
    assert (out / "e2e_adapter" / "adapter_config.json").is_file()
    results = json.loads((out / "results.json").read_text())
    assert results["gpt2_max_abs_logit_diff"] < 1e-4
    same, total = results["tokenizer_same_ids"]
    assert same == total
    agree, shown = results["peft_same_text"]
    assert agree == shown
    assert set(results["positions"]) == {"after_prefix", "from_zero"}
    assert "| num_virtual_tokens | 14 |" in stdout
