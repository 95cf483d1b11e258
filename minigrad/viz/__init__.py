"""Seeing the graph: draw it (graphviz), trace it as assignments, render backward frame by frame."""
from minigrad.viz.draw import (Drawing, GraphTooLargeError, GraphvizNotInstalledError, draw,
                               summarise)
from minigrad.viz.frames import backward_frames
from minigrad.viz.trace import Trace, trace

__all__ = ["Drawing", "GraphTooLargeError", "GraphvizNotInstalledError", "draw", "summarise",
           "backward_frames", "Trace", "trace"]
