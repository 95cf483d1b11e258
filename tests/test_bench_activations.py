"""bench/bench_activations.py, the figures behind fused_lstm.py's gates from one exp, runs and adds up."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_it_times_exp_and_tanh_on_every_gate_block():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_activations.py"), "--repeats", "3"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.rsplit(None, 3) for line in done.stdout.splitlines() if line.strip().startswith("(")]
    assert [row[0].strip() for row in rows] == ["(100, 256)", "(2, 100, 128)", "(30, 2, 100, 128)"]
    for _, exp, tanh, ratio in rows:  # the ratio is of the two timings printed (each to 0.1 µs)
        assert abs(float(ratio) - float(tanh) / float(exp)) <= 0.01 + 0.1 * float(tanh) / float(exp) ** 2


def test_a_bad_repeat_count_is_refused_plainly():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench_activations.py"), "--repeats", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--repeats must be at least 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr
