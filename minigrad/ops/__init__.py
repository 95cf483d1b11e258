"""The primitive ops, one class each. `Tensor`'s operators and `minigrad.functional` call these."""
from minigrad.ops.elementwise import Add, Sub, Mul, Div, Neg, Pow, TensorPow, Exp, Log, Tanh, Sigmoid, ReLU
from minigrad.ops.reduce import Sum, Mean, Max
from minigrad.ops.shape import BroadcastTo, Reshape, Transpose, GetItem, Gather, Concat, Stack
from minigrad.ops.linalg import MatMul
from minigrad.ops.softmax import Softmax, LogSoftmax

__all__ = ["Add", "Sub", "Mul", "Div", "Neg", "Pow", "TensorPow", "Exp", "Log", "Tanh", "Sigmoid", "ReLU",
           "Sum", "Mean", "Max", "BroadcastTo", "Reshape", "Transpose", "GetItem", "Gather", "Concat", "Stack",
           "MatMul", "Softmax", "LogSoftmax"]
