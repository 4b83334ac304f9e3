"""A character-level GPT, built the way a lecture builds it: one attention head as a module,
heads in a ModuleList, a causal mask kept as a buffer, a DataLoader of (context, target) pairs.

Plain PyTorch: `python lecture_gpt.py` runs it on PyTorch, `python -m tinygrad_drop.run
lecture_gpt.py` on tinygrad_drop. The last line printed is the final validation loss.
"""
import random

import torch
import torch.nn as nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

# hyperparameters
batch_size = 16
block_size = 16
max_iters = 300
eval_interval = 100
learning_rate = 3e-3
eval_iters = 4
n_embd = 32
n_head = 4
n_layer = 2
dropout = 0.0
device = 'cuda' if torch.cuda.is_available() else 'cpu'

torch.manual_seed(1337)

# a small corpus with structure to learn: sentences from a tiny grammar
words = random.Random(0)
nouns, verbs, adjectives = ["cat", "dog", "bird", "fox"], ["sat", "ran", "slept"], ["red", "big", "old"]
text = "".join(f"the {words.choice(adjectives)} {words.choice(nouns)} {words.choice(verbs)} on the mat. "
               for _ in range(300))

chars = sorted(list(set(text)))
vocab_size = len(chars)
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for i, ch in enumerate(chars)}
encode = lambda s: [stoi[c] for c in s]
decode = lambda l: ''.join([itos[i] for i in l])

data = torch.tensor(encode(text), dtype=torch.long)
n = int(0.9 * len(data))
train_data = data[:n]
val_data = data[n:]


class CharDataset(Dataset):
    """(context, next characters) pairs, one every `stride` characters"""

    def __init__(self, data, stride=1):
        self.data, self.stride = data, stride

    def __len__(self):
        return (len(self.data) - block_size - 1) // self.stride + 1

    def __getitem__(self, i):
        chunk = self.data[i * self.stride:i * self.stride + block_size + 1]
        return chunk[:-1], chunk[1:]


train_loader = DataLoader(CharDataset(train_data), batch_size=batch_size, shuffle=True, drop_last=True)
# the same batches every time, in both frameworks: non-overlapping chunks, in order
eval_loaders = {'train': DataLoader(CharDataset(train_data, block_size), batch_size=64),
                'val': DataLoader(CharDataset(val_data, block_size), batch_size=64)}


@torch.no_grad()
def estimate_loss():
    out = {}
    model.eval()
    for split, loader in eval_loaders.items():
        losses = torch.zeros(min(eval_iters, len(loader)))
        for k, (X, Y) in zip(range(len(losses)), loader):
            logits, loss = model(X.to(device), Y.to(device))
            losses[k] = loss.item()
        out[split] = losses.mean()
    model.train()
    return out


class Head(nn.Module):
    """ one head of self-attention """

    def __init__(self, head_size):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer('tril', torch.tril(torch.ones(block_size, block_size)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)
        q = self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))
        wei = F.softmax(wei, dim=-1)
        wei = self.dropout(wei)
        v = self.value(x)
        return wei @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, num_heads, head_size):
        super().__init__()
        self.heads = nn.ModuleList([Head(head_size) for _ in range(num_heads)])
        self.proj = nn.Linear(head_size * num_heads, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        out = torch.cat([h(x) for h in self.heads], dim=-1)
        return self.dropout(self.proj(out))


class FeedForward(nn.Module):
    def __init__(self, n_embd):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.ReLU(),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    def __init__(self, n_embd, n_head):
        super().__init__()
        head_size = n_embd // n_head
        self.sa = MultiHeadAttention(n_head, head_size)
        self.ffwd = FeedForward(n_embd)
        self.ln1 = nn.LayerNorm(n_embd)
        self.ln2 = nn.LayerNorm(n_embd)

    def forward(self, x):
        x = x + self.sa(self.ln1(x))
        x = x + self.ffwd(self.ln2(x))
        return x


class GPTLanguageModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding_table = nn.Embedding(vocab_size, n_embd)
        self.position_embedding_table = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head=n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        tok_emb = self.token_embedding_table(idx)
        pos_emb = self.position_embedding_table(torch.arange(T, device=device))
        x = tok_emb + pos_emb
        x = self.blocks(x)
        x = self.ln_f(x)
        logits = self.lm_head(x)
        if targets is None:
            loss = None
        else:
            B, T, C = logits.shape
            logits = logits.view(B * T, C)
            targets = targets.view(B * T)
            loss = F.cross_entropy(logits, targets)
        return logits, loss

    def generate(self, idx, max_new_tokens):
        for _ in range(max_new_tokens):
            idx_cond = idx[:, -block_size:]
            logits, loss = self(idx_cond)
            logits = logits[:, -1, :]
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


model = GPTLanguageModel()
m = model.to(device)
print(sum(p.numel() for p in m.parameters()) / 1e3, 'K parameters')
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)

iter = 0
while iter < max_iters:
    for xb, yb in train_loader:
        if iter % eval_interval == 0 or iter == max_iters - 1:
            losses = estimate_loss()
            print(f"step {iter}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        xb, yb = xb.to(device), yb.to(device)
        logits, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        iter += 1
        if iter == max_iters:
            break

context = torch.zeros((1, 1), dtype=torch.long, device=device)
print(decode(m.generate(context, max_new_tokens=40)[0].tolist()))
losses = estimate_loss()
print(f"final val loss {losses['val']:.4f}")
