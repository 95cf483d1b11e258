"""Every command over a matrix of bad inputs: a careless or hostile user never sees a traceback.

Each case asserts the exit status (2 for a usage error, 1 for a run that failed), one plain line
on stderr that names the problem and a fix, no "Traceback", and the model directory involved
byte-for-byte unchanged (the lock file a run holds is not part of the checkpoint).
"""
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import minigrad as mg
from attention.__main__ import main
from attention.checkpoint import LOCK
from attention.train import TrainConfig, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = re.compile(r"must be|retrain|restore|train one with|train into|train the|choose|give |create it|"
                 r"save it as|end the name|write somewhere|move |wait |try |see: |pip install|smaller --lr|"
                 r"another --out|--help|use --|drop --")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A small trained reversal model: the directory each bad command must leave alone."""
    out = str(tmp_path_factory.mktemp("good") / "model")
    config = TrainConfig(task="reverse", epochs=1, batch_size=50, lr=0.01, train_size=200, held_out_size=50)
    train(config, out, log=lambda line: None, progress=False)
    return out


def tree_hash(path: str):
    """sha256 of every file under `path` (or of `path` itself), by relative name; None if absent."""
    if not os.path.exists(path):
        return None
    if os.path.isfile(path):
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).hexdigest()
    digest = {}
    for folder, _, files in os.walk(path):
        for name in files:
            if name != LOCK:
                full = os.path.join(folder, name)
                with open(full, "rb") as file:
                    digest[os.path.relpath(full, path)] = hashlib.sha256(file.read()).hexdigest()
    return digest


def run(argv, capsys):
    """(exit status, stdout, stderr) of `python -m attention argv`, run in this process."""
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(argv, capsys, code: int, says: str, guarded: str):
    before = tree_hash(guarded)
    status, out, err = run(argv, capsys)
    assert "Traceback" not in out + err
    assert status == code, (argv, status, out, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        message = lines[0]
    else:
        message = out + err
    assert says in message, message
    assert FIX.search(message), f"no fix named in: {message}"
    assert tree_hash(guarded) == before, f"{guarded} changed"


# --- bad checkpoints: each is built from the good one, then every command is pointed at it -------
def _metadata_edit(edit):
    def build(good, target):
        arrays, metadata = mg.load(os.path.join(good, "model.npz"), with_metadata=True)
        os.makedirs(target)
        mg.save(arrays, os.path.join(target, "model.npz"), metadata=edit(copy.deepcopy(metadata)))
    return build


def _set(path: str, value):
    def edit(metadata):
        node = metadata
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
        return metadata
    return _metadata_edit(edit)


def _weights_edit(edit):
    def build(good, target):
        arrays, metadata = mg.load(os.path.join(good, "model.npz"), with_metadata=True)
        os.makedirs(target)
        mg.save(edit(arrays), os.path.join(target, "model.npz"), metadata=metadata)
    return build


def _legacy(config_text):
    """The first format: weights without metadata in model.npz, the config beside them."""
    def build(good, target):
        arrays, metadata = mg.load(os.path.join(good, "model.npz"), with_metadata=True)
        os.makedirs(target)
        mg.save(arrays, os.path.join(target, "model.npz"))
        text = config_text(dict(metadata, version=1))
        if text is not None:
            mode = "wb" if isinstance(text, bytes) else "w"
            with open(os.path.join(target, "config.json"), mode) as file:
                file.write(text)
    return build


def _legacy_set(key, value):
    def text(metadata):
        metadata["model"] = dict(metadata["model"], **{key: value})
        return json.dumps(metadata)
    return _legacy(text)


def _raw_weights(content):
    def build(good, target):
        os.makedirs(target)
        with open(os.path.join(target, "model.npz"), "wb") as file:
            file.write(content(good))
    return build


def _truncated(good):
    with open(os.path.join(good, "model.npz"), "rb") as file:
        data = file.read()
    return data[:len(data) // 2]


def _zip(members, compression=zipfile.ZIP_STORED):
    import io
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy(array):
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def _huge_shape(good):
    header = json.dumps({"format": "minigrad.state_dict", "version": 1,
                         "arrays": {"w": {"shape": [2 ** 40], "dtype": "<f4"}}})
    import io
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 40,)})
    return _zip({"__minigrad__.npy": _npy(np.array(header)), "w.npy": npy.getvalue()})


def _zip_bomb(good):
    with zipfile.ZipFile(os.path.join(good, "model.npz")) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["padding.npy"] = b"\0" * 50_000_000
    return _zip(members, zipfile.ZIP_DEFLATED)


def _pickle(good):
    import pickle
    return pickle.dumps({"w": np.ones(3)})


def _directory_as_weights(good, target):
    os.makedirs(os.path.join(target, "model.npz"))


BAD_CHECKPOINTS = {
    "config is a list": (_metadata_edit(lambda m: [m]), "the config must be a JSON object"),
    "model config is a list": (_metadata_edit(lambda m: dict(m, model=[m["model"]])), "got a list"),
    "Tx nested in lists": (_set("model.Tx", [[[[8]]]]), "Tx must be an integer"),
    "Tx 0": (_set("model.Tx", 0), "Tx must be an integer from 1 to 1000, got 0"),
    "Tx -3": (_set("model.Tx", -3), "got -3"),
    "Tx '30'": (_set("model.Tx", "30"), "got '30'"),
    "Tx 30.5": (_set("model.Tx", 30.5), "got 30.5"),
    "Tx 1e9": (_set("model.Tx", 1e9), "got 1000000000.0"),
    "Tx 10**9": (_set("model.Tx", 10 ** 9), "got 1000000000"),
    "Tx true": (_set("model.Tx", True), "got True"),
    "Tx 30 for an 8-digit task": (_set("model.Tx", 30), "the reverse task reads 8 characters"),
    "Ty edited to 3": (_set("model.Ty", 3), "Ty = 3, but the reverse task reads 8 characters and writes 8"),
    "machine vocabulary shorter than the output layer":
        (_set("machine_vocab.tokens", list("01234")), "machine_vocab has 5 tokens but the model's output layer has 10"),
    "human vocabulary a string": (_set("human_vocab", "0123456789"), "human_vocab must be an object"),
    "human vocabulary without specials": (_set("human_vocab.specials", "yes"), "human_vocab must be an object"),
    "unknown task": (_set("task", "klingon"), "task 'klingon' is not one this program knows"),
    "foreign format": (_set("format", "keras.h5"), "not written by `python -m attention train`"),
    "unknown cell": (_set("model.cell", "transformer"), "cell must be one of "),
    "n_a edited": (_set("model.n_a", 16), "file has"),
    "unknown model field": (_set("model.layers", 4), "unknown fields ['layers']"),
    "metrics out of range": (_set("metrics.exact_match", 7), "are not held-out fractions"),
    "NaN weights": (_weights_edit(lambda a: {n: v * np.nan for n, v in a.items()}), "NaN or infinite weights"),
    "a weight missing": (_weights_edit(lambda a: dict(list(a.items())[1:])), "missing from the state dict"),
    "string weights": (_weights_edit(lambda a: a), None),  # replaced below: save refuses to write them
    "legacy config is a list": (_legacy(lambda m: json.dumps([m])), "the config must be a JSON object"),
    "legacy config nested 100000 deep": (_legacy(lambda m: "[" * 100_000), "nests lists or objects too deeply"),
    "legacy config not UTF-8": (_legacy(lambda m: json.dumps(m).encode("utf-16")), "not a readable JSON config"),
    "legacy config with NaN metrics": (_legacy(lambda m: json.dumps(dict(m, metrics=dict(m["metrics"],
                                       exact_match=float("nan"))))), "NaN here means the run that wrote it diverged"),
    "legacy Tx '30'": (_legacy_set("Tx", "30"), "Tx must be an integer from 1 to 1000, got '30'"),
    "legacy Ty 3": (_legacy_set("Ty", 3), "Ty = 3"),
    "legacy config missing": (_legacy(lambda m: None), "config.json is missing"),
    "legacy config of 2 MB": (_legacy(lambda m: " " * 2_000_000 + json.dumps(m)), "too large for a config"),
    "weights truncated": (_raw_weights(_truncated), "is damaged or not a model"),
    "weights empty": (_raw_weights(lambda good: b""), "is damaged or not a model"),
    "weights a pickle": (_raw_weights(_pickle), "not an .npz archive"),
    "weights header nested 100000 deep": (_raw_weights(lambda good: _zip({"__minigrad__.npy": _npy(
        np.array("[" * 100_000))})), "nests 100000 levels"),
    "weights declaring 2**40 floats": (_raw_weights(_huge_shape), "max_bytes"),
    "weights a zip bomb": (_raw_weights(_zip_bomb), "compressed or encrypted"),
    "weights a directory": (_directory_as_weights, "is not a file"),
    "directory without weights": (lambda good, target: os.makedirs(target), "model.npz is missing"),
}
del BAD_CHECKPOINTS["string weights"]  # save refuses strings; the serialization tests forge that file
COMMANDS = {
    "translate": lambda model, tmp: ["translate", "--model", model, "12345678"],
    "evaluate": lambda model, tmp: ["evaluate", "--model", model, "--file", str(tmp / "pairs.tsv")],
    "graph": lambda model, tmp: ["graph", "--model", model, "--out", str(tmp / "g.svg"), "12345678"],
    "train": lambda model, tmp: ["train", "--task", "reverse", "--epochs", "1", "--train-size", "20",
                                 "--no-progress", "--quiet", "--out", model],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("checkpoint", BAD_CHECKPOINTS)
def test_every_command_refuses_every_bad_checkpoint(good, tmp_path, capsys, checkpoint, command):
    build, says = BAD_CHECKPOINTS[checkpoint]
    model = str(tmp_path / "bad")
    build(good, model)
    (tmp_path / "pairs.tsv").write_text("12345678\t87654321\n", encoding="utf-8")
    if command == "train" and checkpoint == "directory without weights":
        pytest.skip("an empty directory is a fine place to train")
    assert_refused(COMMANDS[command](model, tmp_path), capsys, 2, says, guarded=model)
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.parametrize("command", ["translate", "evaluate", "graph"])
@pytest.mark.parametrize("where, says", [("missing", "it does not exist"), ("file", "is a file")])
def test_every_command_refuses_a_model_path_that_is_not_a_directory(tmp_path, capsys, command, where, says):
    model = tmp_path / "model"
    if where == "file":
        model.write_text("not a directory")
    (tmp_path / "pairs.tsv").write_text("12345678\t87654321\n", encoding="utf-8")
    assert_refused(COMMANDS[command](str(model), tmp_path), capsys, 2, says, guarded=str(model))


# --- bad options and inputs against the good model ----------------------------------------------
def _inputs(tmp):
    """The files the option cases point at."""
    files = {
        "utf16.tsv": "12345678\t87654321\n".encode("utf-16"),
        "utf16be.tsv": b"\xfe\xff" + "1\t2\n".encode("utf-16-be"),
        "utf32.tsv": "12345678\t87654321\n".encode("utf-32"),
        "latin1.tsv": "caf\xe9 12345678\t87654321\n".encode("latin-1"),
        "binary.tsv": bytes(range(256)) * 8,
        "empty.tsv": b"",
        "malformed.tsv": b"no tab here\n1\t2\t3\n12345678\t8765\n",
        "commas.tsv": b",,,\t87654321\n , \t12345678\n",
    }
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    (tmp / "adir").mkdir()
    (tmp / "images.png").mkdir()
    (tmp / "afile").write_text("a file, not a directory")


OPTION_CASES = [
    # translate
    ("translate spaces", ["translate", "--model", "{model}", "   "], 2, "is empty once commas"),
    ("translate nothing", ["translate", "--model", "{model}"], 2, "the following arguments are required: texts"),
    ("translate without --model", ["translate", "123"], 2, "required: --model"),
    ("heatmap in a missing directory", ["translate", "--model", "{model}", "123", "--heatmap", "/missing/dir/a.png"], 2,
     "the directory /missing/dir does not exist"),
    ("heatmap .xyz", ["translate", "--model", "{model}", "123", "--heatmap", "{tmp}/a.xyz"], 2, "'.xyz' is not a format"),
    ("heatmap without extension", ["translate", "--model", "{model}", "123", "--heatmap", "{tmp}/a"], 2, "has no extension"),
    ("heatmap a directory", ["translate", "--model", "{model}", "123", "--heatmap", "{tmp}/images.png"], 2,
     "is a directory"),
    ("heatmap under a file", ["translate", "--model", "{model}", "123", "--heatmap", "{tmp}/afile/a.png"], 2,
     "does not exist"),
    # evaluate
    ("evaluate UTF-16", ["evaluate", "--model", "{model}", "--file", "{tmp}/utf16.tsv"], 2, "is UTF-16 or UTF-32 text"),
    ("evaluate UTF-16 BE", ["evaluate", "--model", "{model}", "--file", "{tmp}/utf16be.tsv"], 2, "UTF-16"),
    ("evaluate UTF-32", ["evaluate", "--model", "{model}", "--file", "{tmp}/utf32.tsv"], 2, "UTF-16 or UTF-32"),
    ("evaluate latin-1", ["evaluate", "--model", "{model}", "--file", "{tmp}/latin1.tsv"], 2,
     "is not UTF-8 text (byte 0xe9 at offset 3)"),
    ("evaluate binary", ["evaluate", "--model", "{model}", "--file", "{tmp}/binary.tsv"], 2, "is not UTF-8 text"),
    ("evaluate a directory", ["evaluate", "--model", "{model}", "--file", "{tmp}/adir"], 2, "is a directory"),
    ("evaluate a missing file", ["evaluate", "--model", "{model}", "--file", "{tmp}/nothing.tsv"], 2, "no such file"),
    ("evaluate an empty file", ["evaluate", "--model", "{model}", "--file", "{tmp}/empty.tsv"], 2,
     "has no well-formed pairs"),
    ("evaluate only malformed lines", ["evaluate", "--model", "{model}", "--file", "{tmp}/malformed.tsv"], 2,
     "has no well-formed pairs"),
    # graph
    # export and explore: the output file is checked before the model is loaded
    ("export --out a directory", ["export", "--model", "{model}", "--out", "{tmp}/adir"], 2, "adir/out.onnx"),
    ("export --out without .onnx", ["export", "--model", "{model}", "--out", "{tmp}/model"], 2,
     "has no extension; end the name with .onnx"),
    ("export --out in a missing directory", ["export", "--model", "{model}", "--out", "/missing/x.onnx"], 2,
     "the directory /missing does not exist"),
    ("explore --out .png", ["explore", "--model", "{model}", "--out", "{tmp}/a.png", "123"], 2,
     "end the name with .html"),
    ("explore --step out of range", ["explore", "--model", "{model}", "--step", "99", "123"], 2,
     "--step must be between 1 and Ty"),
    ("graph --out x.xyz", ["graph", "--model", "{model}", "--out", "{tmp}/x.xyz", "123"], 2, "'.xyz' is not a format"),
    ("graph --out in a missing directory", ["graph", "--model", "{model}", "--out", "/missing/x.svg", "123"], 2,
     "does not exist"),
    ("graph --out a directory", ["graph", "--model", "{model}", "--out", "{tmp}/adir", "123"], 2, "is a directory"),
    ("graph --step 0", ["graph", "--model", "{model}", "--step", "0", "123"], 2, "--step must be at least 1"),
    ("graph --step -1", ["graph", "--model", "{model}", "--step", "-1", "123"], 2, "--step must be at least 1"),
    ("graph --step 99", ["graph", "--model", "{model}", "--step", "99", "--out", "{tmp}/g.svg", "123"], 2,
     "--step must be between 1 and Ty = 8"),
    ("graph --step abc", ["graph", "--model", "{model}", "--step", "abc", "123"], 2, "invalid int value: 'abc'"),
    ("graph ,", ["graph", "--model", "{model}", "--out", "{tmp}/g.svg", ","], 2, "cannot translate ','"),
    ("graph empty text", ["graph", "--model", "{model}", "--out", "{tmp}/g.svg", ""], 2, "cannot translate ''"),
    # train (into the good model's directory, which none of these may touch)
    *[(f"train {option} {value}", ["train", "--task", "reverse", option, value, "--out", "{model}"], 2,
       f"{option} must be") for option, value in [
        ("--epochs", "0"), ("--epochs", "-1"), ("--batch-size", "0"), ("--batch-size", "-5"), ("--seed", "-1"),
        ("--seed", str(2 ** 40)), ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"),
        ("--train-size", "0"), ("--train-size", "-10"), ("--target-exact", "0"), ("--target-exact", "1.5"),
        ("--target-exact", "nan"), ("--processes", "0"), ("--processes", "-2"), ("--processes", "1000")]],
    *[(f"train {option} {value}", ["train", option, value, "--out", "{model}"], 2,
       f"argument {option}: invalid") for option, value in [
        ("--epochs", "abc"), ("--epochs", "1.5"), ("--epochs", "1e3"), ("--lr", "fast"), ("--batch-size", ""),
        ("--processes", "two"), ("--processes", "1.5"),
        ("--task", "translate"), ("--cell", "transformer"), ("--score", "dot")]],
    ("train --fused", ["train", "--task", "reverse", "--fused", "--out", "{model}"], 2,
     "unrecognized arguments: --fused"),
    ("train --last-date 1999-13-01", ["train", "--task", "dlai-dates", "--last-date", "1999-13-01", "--out", "{model}"], 2,
     "is not a date written YYYY-MM-DD"),
    ("train --last-date 1960-01-01", ["train", "--task", "dlai-dates", "--last-date", "1960-01-01", "--out", "{model}"], 2,
     "before the first date"),
    ("train --last-date on reverse", ["train", "--task", "reverse", "--last-date", "1999-12-31", "--out", "{model}"], 2,
     "dates task only"),
    ("train --out a file", ["train", "--task", "reverse", "--out", "{tmp}/afile"], 2, "is a file, not a directory"),
    ("train --out under a file", ["train", "--task", "reverse", "--out", "{tmp}/afile/model"], 2,
     "cannot write the model into"),
    ("train another task into the directory", ["train", "--task", "dates", "--out", "{model}"], 2,
     "holds a model of the reverse task"),
    ("train an unknown option", ["train", "--frobnicate", "3", "--out", "{model}"], 2, "unrecognized arguments"),
    ("no command", [], 2, "the following arguments are required: command"),
    ("unknown command", ["fly"], 2, "invalid choice: 'fly'"),
    # runs that fail (exit 1) and must keep the model the directory holds
    ("train diverging with --lr 1e38", ["train", "--task", "reverse", "--lr", "1e38", "--epochs", "3",
     "--train-size", "100", "--no-progress", "--quiet", "--out", "{model}"], 1, "training diverged"),
]


@pytest.mark.parametrize("argv, code, says", [case[1:] for case in OPTION_CASES], ids=[case[0] for case in OPTION_CASES])
def test_every_command_refuses_every_bad_option(good, tmp_path, capsys, argv, code, says):
    _inputs(tmp_path)
    argv = [arg.format(model=good, tmp=tmp_path) for arg in argv]
    assert_refused(argv, capsys, code, says, guarded=good)
    assert not (tmp_path / "g.svg").exists() and not (tmp_path / "a.xyz").exists()


@pytest.fixture(scope="module")
def dates_model(tmp_path_factory):
    """A barely trained date translator: its task's cleaning drops commas, spaces and final punctuation."""
    out = str(tmp_path_factory.mktemp("dates") / "model")
    config = TrainConfig(task="dates", epochs=1, batch_size=50, train_size=100, held_out_size=20)
    train(config, out, log=lambda line: None, progress=False)
    return out


# A date model reads a text through its task's cleaning; one that cleans away to nothing is refused.
CLEANED_AWAY_CASES = [
    ("translate ,", ["translate", "--model", "{model}", ","], "cannot translate ','"),
    ("translate commas and spaces", ["translate", "--model", "{model}", "3 may 1979", ", ,"],
     "cannot translate ', ,'"),
    ("translate a full stop", ["translate", "--model", "{model}", " . "], "cannot translate ' . '"),
    ("evaluate human texts of commas", ["evaluate", "--model", "{model}", "--file", "{tmp}/commas.tsv"],
     "has no well-formed pairs"),
]


@pytest.mark.parametrize("argv, says", [case[1:] for case in CLEANED_AWAY_CASES],
                         ids=[case[0] for case in CLEANED_AWAY_CASES])
def test_a_date_model_refuses_texts_its_cleaning_empties(dates_model, tmp_path, capsys, argv, says):
    _inputs(tmp_path)
    argv = [arg.format(model=dates_model, tmp=tmp_path) for arg in argv]
    assert_refused(argv, capsys, 2, says, guarded=dates_model)


def test_a_worse_run_does_not_replace_a_better_model(good, tmp_path, capsys):
    """The directory holds a model with perfect held-out scores: a one-epoch run cannot beat it,
    so model.npz is kept byte for byte, the run says so, and it exits 1."""
    perfect = str(tmp_path / "perfect")
    _set("metrics", {"exact_match": 1.0, "per_position": 1.0, "epoch": 9, "loss": 0.0})(good, perfect)
    argv = ["train", "--task", "reverse", "--epochs", "1", "--train-size", "50", "--no-progress", "--quiet",
            "--out", perfect]
    assert_refused(argv, capsys, 1, "no epoch of this run reached the model", guarded=perfect)


@pytest.mark.parametrize("argv, code", [
    (["translate", "--model", "{bad}", "12345678"], 2),
    (["evaluate", "--model", "{model}", "--file", "{tmp}/utf16.tsv"], 2),
    (["graph", "--model", "{model}", "--out", "{tmp}/x.xyz", "1"], 2),
    (["train", "--lr", "nan", "--out", "{model}"], 2),
    (["train", "--epochs", "abc"], 2),
], ids=["damaged model", "UTF-16 file", "graph format", "train --lr nan", "argparse"])
def test_the_real_entry_point_prints_no_traceback(good, tmp_path, argv, code):
    """The same refusals through `python -m attention` in a subprocess: the status and one line,
    and no traceback anywhere in its output."""
    _inputs(tmp_path)
    BAD_CHECKPOINTS["Tx '30'"][0](good, str(tmp_path / "bad"))
    argv = [arg.format(model=good, tmp=tmp_path, bad=tmp_path / "bad") for arg in argv]
    environment = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "attention", *argv], capture_output=True, text=True,
                            env=environment, timeout=120)
    assert result.returncode == code
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_evaluate_reads_windows_line_ends_and_a_utf8_byte_order_mark(good, tmp_path, capsys):
    """Not a mistake: a file saved by Notepad (BOM, CRLF) is evaluated line for line, as UTF-8."""
    pairs = tmp_path / "windows.tsv"
    pairs.write_bytes("\ufeff12345678\t87654321\r\n11112222\t22221111\r\n".encode("utf-8"))
    code, out, err = run(["evaluate", "--model", good, "--file", str(pairs)], capsys)
    assert code == 0 and "2 pairs (0 malformed lines skipped)" in out and err == ""
