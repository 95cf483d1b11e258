"""Training and the command line, on the small reversal task so each test takes seconds."""
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from attention.__main__ import main
from attention.train import TrainConfig, attention_sharpness, load_checkpoint, train, \
    uniform_attention_warning
from minigrad.threads import blas_threads


def quick_config(**overrides) -> TrainConfig:
    settings = dict(task="reverse", epochs=12, batch_size=50, lr=0.01, train_size=2500,
                    held_out_size=300, seed=0, target_exact=0.99)
    settings.update(overrides)
    return TrainConfig(**settings)


def test_reversal_reaches_high_accuracy_in_seconds(tmp_path):
    history = train(quick_config(), str(tmp_path), log=lambda line: None, progress=False)
    last = history["epochs"][-1]
    assert last["exact_match"] >= 0.95, history["epochs"]
    assert last["sharpness"] > 0.4  # reversal needs sharp attention: each output looks at one input
    model, human, machine, metadata = load_checkpoint(str(tmp_path))
    assert metadata["metrics"]["epoch"] == last["epoch"]
    texts = ["01234567", "73150264", "98989898", "55501234", "31415926", "27182818", "00000001", "86420975"]
    predicted, _ = model.predict(np.stack([human.encode_padded(text, 8)[0] for text in texts]))
    right = sum(machine.decode(p) == text[::-1] for p, text in zip(predicted, texts))
    assert right >= 6, [machine.decode(p) for p in predicted]  # the loaded model reverses, as its metrics say


def test_two_trainings_in_two_threads_each_train_as_alone():
    """Grad mode is per thread: one training's held-out evaluation (under no_grad) does not stop
    the other's steps from recording. Before, the second thread's backward failed with a GradError."""
    configs = [quick_config(epochs=2, target_exact=None, seed=seed, composed=composed, processes=1)
               for seed, composed in ((1, False), (2, True))]  # one process, as train in a thread has
    with blas_threads():  # one BLAS thread: the same sums whether or not another training calls BLAS
        alone = [train(config, None, log=lambda line: None, progress=False) for config in configs]
        together, errors = _trained_in_two_threads(configs)
    assert not errors, errors
    for one, both in zip(alone, together):
        assert [e["loss"] for e in both["epochs"]] == [e["loss"] for e in one["epochs"]]
        assert [e["exact_match"] for e in both["epochs"]] == [e["exact_match"] for e in one["epochs"]]


def _trained_in_two_threads(configs) -> tuple[list, list]:
    """The histories of train(config) for both configs, each run in its own thread at once, and
    what either raised."""
    together, errors = [None, None], []

    def run(k):
        try:
            together[k] = train(configs[k], None, log=lambda line: None, progress=False)
        except BaseException as error:  # reported by the assertion below, with its type
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return together, errors


def test_interrupt_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = mg.optim.Adam.step

    def step_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] == 60:  # in epoch 2 (50 steps an epoch)
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(mg.optim.Adam, "step", step_then_interrupt)
    lines = []
    history = train(quick_config(target_exact=None), str(tmp_path), log=lines.append, progress=False)
    assert history["interrupted"] and len(history["epochs"]) == 1
    assert "last good checkpoint (epoch 1)" in lines[-1]
    _, _, _, metadata = load_checkpoint(str(tmp_path))
    assert metadata["metrics"]["epoch"] == 1
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".partial")]


def test_sharpness_and_the_uniform_attention_warning():
    tx = 30
    uniform = np.full((4, 10, tx), 1 / tx)
    peaked = np.zeros((4, 10, tx))
    peaked[..., 3] = 1
    assert attention_sharpness(uniform) == pytest.approx(1 / tx)
    assert attention_sharpness(peaked) == 1.0
    assert "dead-relu" in uniform_attention_warning(attention_sharpness(uniform), tx, "dlai")
    assert "dead-relu" not in uniform_attention_warning(attention_sharpness(uniform), tx, "bahdanau")
    assert uniform_attention_warning(attention_sharpness(peaked), tx, "dlai") is None


@pytest.fixture(scope="module")
def trained_reverse(tmp_path_factory):
    out = tmp_path_factory.mktemp("reverse_model")
    code = main(["train", "--task", "reverse", "--epochs", "12", "--train-size", "2500",
                 "--batch-size", "50", "--lr", "0.01", "--target-exact", "0.99", "--no-progress",
                 "--out", str(out)])
    assert code == 0
    return str(out)


def test_cli_translate_and_heatmap(trained_reverse, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    heatmap = tmp_path / "alpha.png"
    assert main(["translate", "--model", trained_reverse, "12345678", "--heatmap", str(heatmap)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("87654321  (confidence ") and float(line.split()[-1][:-1]) >= 0.9
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_says_unsure_below_the_min_confidence(tmp_path, capsys):
    """A model after one short epoch is far from sure of anything: it says so instead of guessing."""
    out = tmp_path / "barely"
    assert main(["train", "--task", "reverse", "--epochs", "1", "--train-size", "300",
                 "--no-progress", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["translate", "--model", str(out), "12345678", "87654321"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("unsure  (best guess ") for line in lines), lines
    assert main(["translate", "--model", str(out), "--min-confidence", "0", "12345678"]) == 0
    assert "(confidence " in capsys.readouterr().out
    assert main(["translate", "--model", str(out), "--min-confidence", "1.5", "12345678"]) == 2
    assert "error: --min-confidence is a probability between 0 and 1, got 1.5" in capsys.readouterr().err
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("12345678\t87654321\n11112222\t22221111\n", encoding="utf-8")
    assert main(["evaluate", "--model", str(out), "--file", str(pairs)]) == 0
    printed = capsys.readouterr().out
    assert "unsure        100.00% (confidence below 0.95" in printed
    assert "flagged       100.00% of the 2 wrong answers, 0.00% of the 0 right ones" in printed


def test_cli_evaluate_reports_malformed_lines(trained_reverse, tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("12345678\t87654321\nno tab here\n11112222\t22221111\n33\t3\n", encoding="utf-8")
    assert main(["evaluate", "--model", trained_reverse, "--file", str(pairs)]) == 0
    captured = capsys.readouterr()
    assert "2 pairs (2 malformed lines skipped)" in captured.out
    assert "line 2" in captured.err and "line 4" in captured.err
    assert "exact match" in captured.out
    assert "unsure " in captured.out and "flagged " in captured.out and "not a valid output: 0 pairs" in captured.out


def test_cli_graph_highlights_alpha_and_c(trained_reverse, tmp_path, renderer):
    out = tmp_path / "step2.svg"
    assert main(["graph", "--model", trained_reverse, "--step", "2", "--out", str(out), "12345678"]) == 0
    svg = ET.parse(out).getroot()
    text = " ".join((t.text or "").replace("\xa0", " ") for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "alpha<2,·>" in text and "c<2>" in text and "grad" in text
    assert "decoder t=1" in text and "(collapsed)" in text  # the other steps are boxes
    assert "alpha<1,·>" not in text


def test_cli_graph_takes_a_layout_and_names_the_formats_it_cannot_write(trained_reverse, tmp_path,
                                                                        monkeypatch, capsys):
    monkeypatch.setenv("MINIGRAD_RENDERER", "graphviz-pure")
    out = tmp_path / "step1.png"
    assert main(["graph", "--model", trained_reverse, "--layout", "LR", "--out", str(out), "1234"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and capsys.readouterr().out.strip() == str(out)
    assert main(["graph", "--model", trained_reverse, "--out", str(tmp_path / "step1.pdf"), "1234"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: format 'pdf' needs Graphviz's `dot`") and "svg" in error
    assert "Traceback" not in error


def test_cli_user_mistakes_give_messages_not_tracebacks(trained_reverse, tmp_path, capsys):
    assert main(["translate", "--model", str(tmp_path / "nowhere"), "123"]) == 2
    assert "is not a trained model directory" in capsys.readouterr().err
    assert main(["translate", "--model", trained_reverse, "   "]) == 2
    assert "empty" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    (tmp_path / "broken" / "model.npz").write_bytes(b"not a zip")
    assert main(["translate", "--model", str(tmp_path / "broken"), "123"]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_warns_about_long_and_unknown_input(trained_reverse, capsys):
    with pytest.warns(UserWarning) as caught:
        assert main(["translate", "--model", trained_reverse, "1234567890123"]) == 0
        assert main(["translate", "--model", trained_reverse, "12x45678"]) == 0
    messages = " ".join(str(w.message) for w in caught)
    assert "longer than 8" in messages and "<unk>" in messages


def test_checkpoint_is_one_file_whose_config_is_plain_json(trained_reverse):
    """Weights and config travel together in model.npz (one atomic unit); the config is plain JSON
    in the file's header, and numpy reads the file without pickle."""
    assert sorted(f for f in os.listdir(trained_reverse) if not f.startswith(".")) == ["model.npz"]
    _, metadata = mg.load(os.path.join(trained_reverse, "model.npz"), with_metadata=True)
    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["model"]["Tx"] == 8 and metadata["task"] == "reverse"
    assert np.load(os.path.join(trained_reverse, "model.npz"), allow_pickle=False).files


def test_the_dates_demo_prints_translations_and_writes_pictures(tmp_path):
    """The README's demo command, on a tiny budget, run as a newcomer runs it: a fresh process
    with no Graphviz on PATH. It prints translations, then the paths of the heatmap and of the
    graph, which are there."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "dates"
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_RENDERER"}
    env.update(PATH=str(tmp_path), PYTHONPATH=os.pathsep.join([str(root), env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "attention", "train", "--train-size", "200",
                           "--epochs", "1", "--no-progress", "--out", str(out)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert any(line.strip().startswith("3 may 1979 →") for line in printed)
    assert printed[-2:] == [f"attention heatmap of '3 may 1979': {out / 'attention.png'}",
                            f"computation graph of decoder step 1: {out / 'decoder_step_1.svg'}"]
    assert (out / "attention.png").read_bytes()[:4] == b"\x89PNG"
    svg = ET.parse(out / "decoder_step_1.svg").getroot()
    assert "graphviz-pure" in (out / "decoder_step_1.svg").read_text(encoding="utf-8")
    assert any("alpha<1,·>" in (t.text or "") for t in svg.iter("{http://www.w3.org/2000/svg}text"))


def test_minigrad_demo_prints_every_gradient(capsys):
    from minigrad.__main__ import main as minigrad_demo
    minigrad_demo()
    printed = capsys.readouterr().out
    assert printed.startswith("loss = ") and "weight" in printed and "Tanh" in printed


@pytest.mark.parametrize("module", ["minigrad", "attention"])
def test_both_entry_points_answer_help_without_running_anything(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0 and done.stdout.startswith(f"usage: python -m {module}")
    assert "loss =" not in done.stdout  # the demo did not run
    assert ("seeded" if module == "minigrad" else "python -m attention train --out runs/dates") in done.stdout


def test_train_runs_the_fast_twin_and_composed_the_teaching_model(tmp_path, monkeypatch):
    """`train` back-propagates through the twin's AttentionDecoder node, `train --composed`
    through every gate; both train the same parameters to the same loss (float32 rounding apart)
    and write one checkpoint format, which loads as the composed model."""
    from attention.fast import AttentionDecoder
    backward = AttentionDecoder.backward
    calls = []
    monkeypatch.setattr(AttentionDecoder, "backward", lambda self, grad: calls.append(1) or backward(self, grad))
    losses = {}
    for flags in ([], ["--composed"]):
        calls.clear()
        out = tmp_path / ("composed" if flags else "fast")
        assert main(["train", "--task", "reverse", *flags, "--epochs", "1", "--train-size", "300",
                     "--no-progress", "--out", str(out)]) == 0
        model, human, _, metadata = load_checkpoint(str(out))
        assert metadata["train"]["composed"] is bool(flags)
        assert len(calls) == (0 if flags else 3)  # 3 batches of 100
        losses[bool(flags)] = metadata["metrics"]["loss"]
        logits, _ = model(np.stack([human.encode_padded("01234567", 8)[0]]))
        ops = {type(t.grad_fn).__name__ for t in mg.topological_order(logits) if t.grad_fn is not None}
        assert "Sigmoid" in ops and "AttentionDecoder" not in ops
    np.testing.assert_allclose(losses[False], losses[True], rtol=1e-4)


def test_a_fixed_last_date_makes_the_dates_data_the_same_on_any_day(capsys):
    """The dlai-dates task draws up to today by default; --last-date pins it, so a run can be repeated."""
    from attention.train import build
    config = TrainConfig(task="dlai-dates", train_size=200, held_out_size=50, last_date="1999-12-31")
    task, (X, Y), _, _ = build(config)
    labels = [task.machine_vocab.decode(row) for row in Y]
    assert max(labels) <= "1999-12-31" and min(labels) >= "1970-01-01"
    assert main(["train", "--task", "dlai-dates", "--last-date", "1999-13-01"]) == 2
    assert "error: last_date '1999-13-01' is not a date written YYYY-MM-DD" in capsys.readouterr().err
    for task in ("reverse", "dates"):  # the broad task's years are fixed: 1900-2099
        assert main(["train", "--task", task, "--last-date", "1999-12-31"]) == 2
        assert f"error: last_date applies to the dlai-dates task only, not to {task!r}" in capsys.readouterr().err


def test_a_uniform_heatmap_looks_pale_and_a_sharp_one_dark(tmp_path):
    """The colour scale is 0..1 for every map: a dead scorer's α = 1/Tx everywhere must not be
    drawn as dark as a map that puts all its weight on one input character."""
    image = pytest.importorskip("matplotlib.image")
    from attention.plot import attention_heatmap
    chars, outputs = list("3 may 1979"), list("1979-05-03")
    brightness = {}
    for name, alpha in {"uniform": np.full((10, 10), 0.1), "sharp": np.ones((10, 10))}.items():
        path = attention_heatmap(alpha, chars, outputs, str(tmp_path / f"{name}.png"))
        pixels = image.imread(path)
        height, width = pixels.shape[:2]
        brightness[name] = pixels[height // 2, width // 2, :3].mean()  # a cell in the middle of the map
    assert brightness["uniform"] > 0.85 and brightness["sharp"] < 0.3


def test_an_epoch_that_gets_worse_does_not_replace_the_checkpoint(tmp_path, monkeypatch):
    """Adam can blow up late (seed 1 of the dates fell from 99.8% to 49% in its 12th epoch):
    the checkpoint keeps the best held-out epoch, and the log says why it was not replaced."""
    import attention.train as training
    scores = iter([0.5, 0.9, 0.2])
    real_evaluate = training.evaluate

    def evaluate_with_a_collapse(model, X, Y):
        metrics = real_evaluate(model, X, Y)
        metrics["exact_match"] = next(scores)
        return metrics

    monkeypatch.setattr(training, "evaluate", evaluate_with_a_collapse)
    lines = []
    history = train(quick_config(epochs=3, target_exact=None), str(tmp_path), log=lines.append, progress=False)
    assert history["best_epoch"] == 2 and len(history["epochs"]) == 3
    assert "held-out exact match fell from 90.00% (epoch 2) to 20.00%; the checkpoint keeps epoch 2" in lines
    _, _, _, metadata = load_checkpoint(str(tmp_path))
    assert metadata["metrics"]["epoch"] == 2
