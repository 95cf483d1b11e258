"""Seeing the graph: draw it (graphviz), trace it as assignments, render backward frame by frame,
explore it as a page you click through."""
from minigrad.viz.draw import (Drawing, GraphTooLargeError, GraphvizNotInstalledError, draw,
                               summarise)
from minigrad.viz.explore import Explorer, explore
from minigrad.viz.frames import backward_frames
from minigrad.viz.trace import Trace, trace

__all__ = ["Drawing", "GraphTooLargeError", "GraphvizNotInstalledError", "draw", "summarise",
           "backward_frames", "Explorer", "explore", "Trace", "trace"]
