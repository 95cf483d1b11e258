"""minigrad: a small numpy tensor library with reverse-mode autograd, for learning how it works."""
from minigrad.tensor import Tensor
from minigrad.function import Function
from minigrad.autograd import BackwardStep, backward, backward_steps
from minigrad.order import topological_order
from minigrad.modes import detect_anomaly, enable_grad, no_grad, scope
from minigrad.errors import (AnomalyError, DTypeError, GradError, MinigradError, OpError,
                             SerializationError)
from minigrad.functional import (chunk, composed_softmax, concat, cross_entropy, exp, log, log_softmax, relu, sigmoid,
                                 softmax, split, stack, tanh)
from minigrad.gradcheck import GradcheckError, gradcheck, gradcheck_function
from minigrad.serialization import load, save
from minigrad.nn.init import manual_seed
from minigrad.viz import backward_frames, draw, explore, trace
from minigrad import functional, nn, ops, optim, viz

__all__ = ["Tensor", "Function", "BackwardStep", "backward", "backward_steps", "detect_anomaly",
           "enable_grad", "no_grad", "scope", "topological_order", "AnomalyError", "DTypeError", "GradError",
           "MinigradError", "OpError", "SerializationError", "chunk", "composed_softmax", "concat", "cross_entropy",
           "exp", "log", "log_softmax", "relu", "sigmoid", "softmax", "split", "stack", "tanh",
           "GradcheckError", "gradcheck", "gradcheck_function", "load", "save", "manual_seed", "functional", "nn", "ops",
           "optim", "viz", "draw", "explore", "trace", "backward_frames"]
