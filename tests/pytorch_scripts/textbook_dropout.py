"""A textbook's dropout chapter: dropout from scratch (a mask from torch.rand), then the concise
version with nn.Sequential, nn.Flatten, nn.Dropout and nn.CrossEntropyLoss, trained with SGD on
small 8x8 "images" of three classes.

`python textbook_dropout.py` runs it on PyTorch, `python -m tinygrad_drop.run
textbook_dropout.py` on tinygrad_drop. The last line printed is the final test loss.
"""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)

# three classes of 8x8 images: a horizontal bar, a vertical bar, a diagonal, plus noise
rng = np.random.default_rng(0)
prototypes = np.zeros((3, 8, 8), dtype=np.float32)
prototypes[0, 3:5, :] = 1
prototypes[1, :, 3:5] = 1
prototypes[2][np.eye(8, dtype=bool)] = 1
labels = rng.integers(0, 3, size=900)
images = prototypes[labels] + rng.normal(0, 0.8, size=(900, 8, 8)).astype(np.float32)
X = torch.from_numpy(images).reshape(900, 1, 8, 8)
y = torch.from_numpy(labels)
train_iter = DataLoader(TensorDataset(X[:600], y[:600]), batch_size=32, shuffle=True)
test_iter = DataLoader(TensorDataset(X[600:], y[600:]), batch_size=100, shuffle=False)


def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


X_demo = torch.arange(16, dtype=torch.float32).reshape((2, 8))
print('dropout 0:', dropout_layer(X_demo, 0.).sum().item(), 'dropout 1:', dropout_layer(X_demo, 1.).sum().item())


class Net(nn.Module):
    """The from-scratch model: dropout only while training."""

    def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2, dropout1, dropout2, is_training=True):
        super(Net, self).__init__()
        self.num_inputs = num_inputs
        self.training = is_training
        self.lin1 = nn.Linear(num_inputs, num_hiddens1)
        self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
        self.lin3 = nn.Linear(num_hiddens2, num_outputs)
        self.relu = nn.ReLU()
        self.dropout1, self.dropout2 = dropout1, dropout2

    def forward(self, X):
        H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
        if self.training:
            H1 = dropout_layer(H1, self.dropout1)
        H2 = self.relu(self.lin2(H1))
        if self.training:
            H2 = dropout_layer(H2, self.dropout2)
        return self.lin3(H2)


def accuracy(y_hat, y):
    return float((y_hat.argmax(axis=1) == y).float().sum())


def evaluate(net, data_iter, loss):
    net.eval()
    total_loss, correct, count = 0.0, 0.0, 0
    with torch.no_grad():
        for X, y in data_iter:
            y_hat = net(X)
            total_loss += float(loss(y_hat, y).sum())
            correct += accuracy(y_hat, y)
            count += y.numel()
    return total_loss / count, correct / count


def train(net, num_epochs, lr):
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(num_epochs):
        net.train()
        for X, y in train_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.mean().backward()
            trainer.step()
        test_loss, test_acc = evaluate(net, test_iter, loss)
        print(f'epoch {epoch + 1}, test loss {test_loss:.3f}, test acc {test_acc:.3f}')
    return test_loss


net = Net(64, 3, 64, 32, 0.2, 0.5)
train(net, 5, 0.1)

dropout1, dropout2 = 0.2, 0.5
net = nn.Sequential(nn.Flatten(),
                    nn.Linear(64, 64), nn.ReLU(), nn.Dropout(dropout1),
                    nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout2),
                    nn.Linear(32, 3))


def init_weights(m):
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.1)


net.apply(init_weights)
print(net)
final = train(net, 5, 0.1)
print(f"final test loss {final:.4f}")
