"""The probe runner: this module's source is sent to the child process on its standard input and
run there, next to the student's code. It trusts nothing it finds and is trusted by no one: the
grader reads back only the JSON lines it writes, and whatever student code does to it can only
spoil the student's own answers.

It reads one JSON object from stdin: the tree to import from, in-memory module sources (this
package's `probe` helpers and the probe modules), the probes to run in order with their seeds, and
the file descriptor to answer on. For each probe it writes {"start": id}, then {"answer": id,
"value": …} or {"answer": id, "error": {"type", "message"}}.
"""
import base64
import hashlib
import importlib.abc
import importlib.util
import json
import os
import sys

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")


class MemoryModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the modules the grader sent: they exist nowhere on the child's disk."""

    def __init__(self, sources: dict):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self.sources:
            return None
        package = any(other.startswith(name + ".") for other in self.sources)
        return importlib.util.spec_from_loader(name, self, is_package=package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(self.sources[module.__name__], f"<{module.__name__}>", "exec")
        exec(code, module.__dict__)


def encode(value, depth=0):
    """A probe's answer as JSON: numpy arrays as dtype, shape and base64 bytes."""
    import numpy as np
    if depth > 8:
        raise TypeError("the answer is nested more than 8 deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return encode(value.item(), depth)
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            raise TypeError(f"an array of dtype {value.dtype} is not an answer")
        data = np.ascontiguousarray(value).tobytes()
        return {"ndarray": {"dtype": value.dtype.name, "shape": list(value.shape),
                            "data": base64.b64encode(data).decode("ascii")}}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("an answer's dict keys must be strings")
        return {"dict": {key: encode(item, depth + 1) for key, item in value.items()}}
    raise TypeError(f"a {type(value).__name__} is not an answer")


def seeded_rng(probe_id: str):
    import numpy as np
    return np.random.default_rng(int.from_bytes(hashlib.sha256(probe_id.encode()).digest()[:8], "little"))


def main(spec: dict) -> None:
    answers = os.fdopen(spec["answer_fd"], "w", encoding="utf-8", buffering=1)

    def send(record):
        answers.write(json.dumps(record) + "\n")
        answers.flush()

    sys.path.insert(0, spec["tree"])
    sys.meta_path.insert(0, MemoryModules(spec["modules"]))
    for probe_id in spec["probes"]:
        module_name, function_name = probe_id.split(":")
        send({"start": probe_id})
        try:
            function = getattr(importlib.import_module(module_name), function_name)
            record = {"answer": probe_id, "value": encode(function(seeded_rng(probe_id)))}
        except BaseException as error:  # noqa: BLE001 (SystemExit and KeyboardInterrupt are answers too)
            record = {"answer": probe_id, "error": {"type": type(error).__name__, "message": str(error)[:2000]}}
        send(record)
    answers.close()
    os._exit(0)  # no atexit handler of student code runs after the answers


BOOTSTRAP = ("import json, sys; spec = json.loads(sys.stdin.buffer.read()); namespace = {'__name__': "
             "'coursework_child'}; exec(compile(spec['runner'], 'coursework/child.py', 'exec'), namespace); "
             "namespace['main'](spec)")
