"""A makemore-style MLP language model over names: a character embedding table C, one tanh
hidden layer, parameters as plain tensors updated by hand (`p.data += -lr * p.grad`), batches
from a DataLoader over a TensorDataset.

`python makemore_mlp.py` runs it on PyTorch, `python -m tinygrad_drop.run makemore_mlp.py` on
tinygrad_drop. The last line printed is the final dev loss.
"""
import random

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

# a few hundred made-up names from syllables, the same list on every run
syllables = ["an", "ma", "li", "el", "ro", "sa", "ka", "ni", "ta", "el", "ja", "mi"]
maker = random.Random(42)
words = ["".join(maker.choice(syllables) for _ in range(maker.randint(1, 3))) for _ in range(600)]

chars = sorted(list(set(''.join(words))))
stoi = {s: i + 1 for i, s in enumerate(chars)}
stoi['.'] = 0
itos = {i: s for s, i in stoi.items()}
vocab_size = len(itos)
block_size = 3


def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + '.':
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    X = torch.tensor(X)
    Y = torch.tensor(Y)
    return X, Y


n1 = int(0.8 * len(words))
Xtr, Ytr = build_dataset(words[:n1])
Xdev, Ydev = build_dataset(words[n1:])

g = torch.Generator().manual_seed(2147483647)
n_embd, n_hidden = 10, 64
C = torch.randn((vocab_size, n_embd), generator=g)
W1 = torch.randn((n_embd * block_size, n_hidden), generator=g) * (5 / 3) / ((n_embd * block_size) ** 0.5)
b1 = torch.randn(n_hidden, generator=g) * 0.01
W2 = torch.randn((n_hidden, vocab_size), generator=g) * 0.01
b2 = torch.randn(vocab_size, generator=g) * 0
parameters = [C, W1, b1, W2, b2]
print(sum(p.nelement() for p in parameters), 'parameters')
for p in parameters:
    p.requires_grad = True

loader = DataLoader(TensorDataset(Xtr, Ytr), batch_size=32, shuffle=True, generator=g)


def forward(X):
    emb = C[X]
    h = torch.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)
    return h @ W2 + b2


@torch.no_grad()
def split_loss(X, Y):
    return F.cross_entropy(forward(X), Y).item()


step = 0
for epoch in range(4):
    for Xb, Yb in loader:
        loss = F.cross_entropy(forward(Xb), Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if step < 300 else 0.03
        for p in parameters:
            p.data += -lr * p.grad
        step += 1
    print(f"epoch {epoch}: step {step} train {split_loss(Xtr, Ytr):.4f} dev {split_loss(Xdev, Ydev):.4f}")

# sample a few names
for _ in range(3):
    out, context = [], [0] * block_size
    while True:
        probs = F.softmax(forward(torch.tensor([context])), dim=1)
        ix = torch.multinomial(probs, num_samples=1, generator=g).item()
        context = context[1:] + [ix]
        if ix == 0 or len(out) > 12:
            break
        out.append(itos[ix])
    print(''.join(out))
print(f"final dev loss {split_loss(Xdev, Ydev):.4f}")
