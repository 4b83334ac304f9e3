"""Training a character-level GPT the way scripts/train.py does: the loop with evaluation and
exact resume (`trainer`), and the checkpoint that makes resuming exact (`checkpoint`). Not
imported by `import tinygrad_drop`; write `from tinygrad_drop.training.trainer import run`."""
