"""Layers: Module, Parameter, Linear, Embedding, and the initialisers in `init`."""
from minigrad.nn import init
from minigrad.nn.module import Module, Parameter, StateDictError
from minigrad.nn.linear import Linear
from minigrad.nn.embedding import Embedding

__all__ = ["init", "Module", "Parameter", "StateDictError", "Linear", "Embedding"]
