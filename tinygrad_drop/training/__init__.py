"""Training a character-level GPT the way scripts/train.py does: the loop with evaluation and
exact resume (`trainer`), the checkpoint that makes resuming exact (`checkpoint`), and what a run
does with the settings nobody gave (`defaults`: the recipes, the seed, the run's folder). Not
imported by `import tinygrad_drop`; write `from tinygrad_drop.training.trainer import run`."""
