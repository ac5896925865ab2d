"""GPTConfig: every size of the model in one validated dataclass, plus named presets."""
from dataclasses import asdict, dataclass, fields, replace

ATTENTION_IMPLS = ("explicit", "sdpa")


@dataclass
class GPTConfig:
    vocab_size: int = 2049     # the course tokenizer: 2048 BPE tokens + <|endoftext|>
    block_size: int = 128      # longest run of real tokens the model sees (prefix slots do not count)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True          # biases in Linear and LayerNorm, as in GPT-2
    attention: str = "explicit"  # "explicit": q·kᵀ/√d, mask, softmax, ·v written out; "sdpa": torch's fused kernel

    def __post_init__(self):
        self.validate()

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def validate(self) -> None:
        """All checks in one place; each message says what is wrong and how to fix it."""
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name}={value!r} must be a positive integer.")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head gets n_embd/n_head dims. "
                f"Pick n_embd a multiple of n_head (e.g. n_embd={self.n_head * max(1, round(self.n_embd / self.n_head))})."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1).")
        if self.attention not in ATTENTION_IMPLS:
            raise ValueError(f"attention={self.attention!r} is unknown; use one of {ATTENTION_IMPLS}.")
        if self.vocab_size > 65535:
            # token caches are uint16 on disk
            raise ValueError(f"vocab_size={self.vocab_size} does not fit the uint16 token files; keep it <= 65535.")

    def to_dict(self) -> dict:
        return asdict(self)

    def same_model_as(self, other: "GPTConfig") -> bool:
        """True when the two configs differ at most in the attention kernel: explicit and sdpa compute the same
        function with the same weights (tests/test_model.py), so a prefix or checkpoint fits either."""
        return replace(self, attention="explicit") == replace(other, attention="explicit")

    @classmethod
    def from_dict(cls, d: dict) -> "GPTConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {sorted(unknown)}; known fields are {sorted(known)}.")
        return cls(**d)

    def override(self, **changes) -> "GPTConfig":
        """A copy with some fields changed (validated again)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


# Named presets. `nano` trains in seconds (tests); `tiny` is what the lessons pretrain on a laptop CPU.
PRESETS = {
    "nano": dict(block_size=32, n_layer=2, n_head=2, n_embd=32),
    "tiny": dict(block_size=256, n_layer=4, n_head=6, n_embd=192),
}


def preset(name: str, **overrides) -> GPTConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
    return GPTConfig(**{**PRESETS[name], **overrides})
