"""Seeing the graph: draw it (rendered by Graphviz's `dot` or graphviz-pure), trace it as
assignments, render backward frame by frame, explore it as a page you click through."""
from minigrad.viz.draw import Drawing, GraphTooLargeError, draw, summarise
from minigrad.viz.render import GraphvizNotInstalledError, UnsupportedFormatError, which_renderer
from minigrad.viz.explore import Explorer, explore
from minigrad.viz.frames import backward_frames
from minigrad.viz.trace import Trace, trace

__all__ = ["Drawing", "GraphTooLargeError", "GraphvizNotInstalledError", "UnsupportedFormatError",
           "which_renderer", "draw", "summarise",
           "backward_frames", "Explorer", "explore", "Trace", "trace"]
