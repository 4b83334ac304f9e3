"""Layers, containers and the functional API, with PyTorch's names."""
from . import functional, init, utils
from .attention import CausalSelfAttention, MultiheadAttention
from .dropout import DropConnect, DropPath, Dropout
from .layers import (GELU, Embedding, Flatten, Identity, LayerNorm, LeakyReLU, Linear, LogSoftmax, ReLU, Sigmoid,
                     SiLU, Softmax, Tanh)
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterList, Sequential
from .transformer import MLP, TransformerBlock

__all__ = ["functional", "init", "utils", "CausalSelfAttention", "MultiheadAttention", "DropConnect",
           "DropPath", "Dropout", "GELU", "Embedding", "LayerNorm", "Linear", "ReLU", "Sigmoid", "Tanh",
           "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential", "MLP", "TransformerBlock",
           "Flatten", "Identity", "LeakyReLU", "LogSoftmax", "SiLU", "Softmax", "ParameterList",
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]
