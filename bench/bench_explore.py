"""The explorer page of the date translator: its size, the time to write it, to open it in
chromium, and to step through all of backward in it. Prints one line of JSON per page:
    python bench/bench_explore.py [--step 3]          a decoder-step page, then every decoder step

The model is the default (Tx=30, Ty=10, LSTM, Bahdanau) at its seeded initial weights: the
page's size and speed depend on the graph, not on what the weights learnt. Needs Graphviz, and
Playwright with chromium (MINIGRAD_CHROMIUM, else `chromium` on PATH) for the browser times.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import minigrad as mg  # noqa: E402
from make_figures import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the docs' browser settings)
from attention.seq2seq import ModelConfig, Seq2SeqAttention  # noqa: E402


def pages(step: int, directory: Path):
    mg.manual_seed(0)
    model = Seq2SeqAttention(ModelConfig(score="bahdanau"))
    logits, _ = model(np.random.default_rng(0).integers(0, 37, size=(1, 30)))
    loss = mg.cross_entropy(logits, logits.data.argmax(axis=-1)).named("loss")
    ty = model.config.Ty
    for steps in ([step], list(range(1, ty + 1))):
        others = tuple(f"decoder t={t}" for t in range(1, ty + 1) if t not in steps)
        path = directory / ("step.html" if len(steps) == 1 else "all.html")
        started = time.perf_counter()
        explorer = mg.explore(loss, highlight=(f"alpha<{steps[0]},·>", f"c<{steps[0]}>"),
                              collapse=("encoder",) + others, path=path)
        yield {"page": f"decoder step {step}" if len(steps) == 1 else "every decoder step",
               "tensors": explorer.tensors, "backward_steps": explorer.steps,
               "bytes": path.stat().st_size, "write_s": round(time.perf_counter() - started, 2)}, path


def browser_times(path: Path) -> dict:
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("#step-label:has-text('step 0')")
        opened = time.perf_counter() - started
        # every step, as clicking "next" does, timed inside the page
        stepped = page.evaluate("""() => {
            const next = document.getElementById('next'), started = performance.now();
            const steps = Number(document.getElementById('slider').max);
            for (let k = 0; k < steps; k++) next.click();
            return [(performance.now() - started) / 1000, steps];
        }""")
        browser.close()
    return {"open_s": round(opened, 2), "step_through_s": round(stepped[0], 2),
            "ms_per_step": round(stepped[0] / max(stepped[1], 1) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for record, path in pages(args.step, Path(directory)):
            if os.path.exists(CHROMIUM) and shutil.which("dot"):
                record.update(browser_times(path))
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
