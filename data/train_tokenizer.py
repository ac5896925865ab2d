"""Train the course tokenizer: byte-level BPE on the IMDB training reviews.

    python -m data.train_tokenizer                  # -> data/tokenizer/reviews_bpe_2048.tiktoken
    python -m data.train_tokenizer --vocab-size 4096 # -> data/tokenizer/reviews_bpe_4096.tiktoken

The 2048 file is committed, so lessons do not need to run this; rerun it after changing the trainer.
(Token caches under runs/cache/ notice the new file and rebuild themselves.)
"""
import argparse
import time
from pathlib import Path

from data.reviews import pretraining_texts
from minigpt.tokenizer import REPO_ROOT, load_tokenizer, save_ranks, train_bpe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=2048, help="tokens, including the 256 bytes (default 2048)")
    parser.add_argument("--out", default=None, help="default data/tokenizer/reviews_bpe_<vocab-size>.tiktoken")
    args = parser.parse_args()
    out = Path(args.out) if args.out else REPO_ROOT / "data" / "tokenizer" / f"reviews_bpe_{args.vocab_size}.tiktoken"

    train_texts, val_texts = pretraining_texts()
    print(f"training on {len(train_texts):,} IMDB reviews ({sum(map(len, train_texts)) / 1e6:.1f}M characters)")
    t0, cpu0 = time.perf_counter(), time.process_time()
    ranks = train_bpe(train_texts, args.vocab_size, verbose=True)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - cpu0
    save_ranks(ranks, out)
    print(f"trained {len(ranks):,} tokens in {seconds:.1f}s ({cpu_seconds:.1f}s of CPU time) -> {out}")

    tokens = sorted(ranks, key=ranks.get)
    print("first merges:", ", ".join(repr(t.decode("utf-8", "replace")) for t in tokens[256:276]))
    print("last merges: ", ", ".join(repr(t.decode("utf-8", "replace")) for t in tokens[-10:]))

    # Sanity check through tiktoken: round trip, and how well it compresses unseen (validation) text.
    enc = load_tokenizer(out)
    val_text = "\n".join(val_texts)
    ids = enc.encode_ordinary(val_text)
    assert enc.decode(ids) == val_text, "round trip failed"
    print(f"validation text: {len(val_text):,} characters -> {len(ids):,} tokens "
          f"({len(ids) / len(val_text):.3f} tokens per character)")


if __name__ == "__main__":
    main()
