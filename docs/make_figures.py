"""Generate every picture the docs pages show, into docs/figures/ (or --out DIR).

    python docs/make_figures.py            everything (trains two date translators: minutes)
    python docs/make_figures.py --fast     the same files from a tiny training run (seconds)
    python docs/make_figures.py --pages    only the graphs the pages draw (seconds)

Three kinds of pictures, all made by the project's own code:

1. Graphs (SVG, Graphviz `dot`, or graphviz-pure without it; draw's layout="auto" lays the
   chains top to bottom). The pages draw them: their code calls
   `mg.draw(...).render("figures/NAME", ...)`. This script runs every page (run_pages.py), each
   in a temporary directory, and copies what the page wrote under figures/. So the picture
   beside a code block is the picture that code makes.
2. What a trained model shows (PNG heatmaps via matplotlib, and one SVG graph). These need
   trained models, so the script trains them itself, with the code `python -m attention train`
   runs (`attention.train.train`, then the checkpoint loaded back as the CLI loads it):

     healthy     python -m attention train --task dlai-dates --train-size 10000 --epochs 12 --seed 0
                     --last-date 2025-01-01
     dead_relu   python -m attention train --task dlai-dates --train-size 10000 --score dlai --seed 4
                     --epochs 3 --last-date 2025-01-01

   (the assignment's task and sizes; the last date pins the data: by default the dates are drawn
   up to today). Each model
   translates TEXT; its α becomes `heatmap_NAME.png` (attention.plot.attention_heatmap, as
   `train` and `translate --heatmap` draw it), and the healthy model's decoder step 1 becomes
   `decoder_step_1.svg` (attention.plot.draw_decoder_step, as `train` and `graph` draw it).
   `heatmaps.json` records the settings, every epoch's metrics and the α shown.

3. Screenshots of the explorer pages two pages write (SCREENSHOTS), taken in chromium through
   Playwright; without them the script says so and skips them.

Everything is seeded. Graphviz names the nodes by Python object ids, different in every run, so
the script renumbers them in order (n1, n2, …); then the graphs are byte-for-byte repeatable
for one Graphviz version (tests/test_docs.py checks that the committed ones are). The trained
pictures are repeatable on one machine, but float32
training is not bit-identical across CPUs and BLAS builds, nor across the number of processes a
batch is split over (`train --processes`: two on a machine with two or more cores, which made the
committed ones; heatmaps.json records it), so they are only compared by what they must show.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(ROOT))

import run_pages  # noqa: E402  (docs/ is not a package)

END = date(2025, 1, 1)
TEXT = "3 may 1979"
COURSE = {"task": "dlai-dates", "train_size": 10_000}  # the course's data, as the pages reproduce it
RUNS = {
    "healthy": {"settings": {**COURSE, "score": "bahdanau", "seed": 0, "epochs": 12,
                             "last_date": END.isoformat()},
                "command": f"python -m attention train --task dlai-dates --train-size 10000 --epochs 12 "
                           f"--seed 0 --last-date {END.isoformat()}"},
    "dead_relu": {"settings": {**COURSE, "score": "dlai", "seed": 4, "epochs": 3,
                               "last_date": END.isoformat()},
                  "command": f"python -m attention train --task dlai-dates --train-size 10000 --score dlai "
                             f"--seed 4 --epochs 3 --last-date {END.isoformat()}"},
}
FAST = {"epochs": 1, "train_size": 300, "held_out_size": 100}  # --fast: the same code, seconds
# The explorer pages the docs write, photographed in a real browser: (steps to click, node to click).
SCREENSHOTS = {"explorer.html": (2, "alpha<1,·>"), "quickstart_explorer.html": (3, "h")}
CHROMIUM = os.environ.get("MINIGRAD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def page_figures(out: Path, pages=None, log=print) -> dict:
    """Run every page; copy the files each wrote under figures/ into `out`. Returns the results."""
    results = {}
    for page in pages or run_pages.pages():
        with tempfile.TemporaryDirectory(prefix=f"docs_{page.stem}_") as workdir:
            result = run_pages.run_page(page, Path(workdir))
            results[page.name] = result
            drawn = Path(workdir) / "figures"
            for path in sorted(drawn.rglob("*")) if drawn.is_dir() else ():
                if path.is_file():
                    target = out / path.relative_to(drawn)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if path.suffix in (".svg", ".html"):  # they name source lines: keep them relative
                        text = run_pages.relative_paths(path.read_text(encoding="utf-8"), Path(workdir))
                        target.write_text(renumbered(text) if path.suffix == ".svg" else text, encoding="utf-8")
                    else:
                        shutil.copyfile(path, target)
            log(f"{page.relative_to(ROOT)}: {'ok' if result.ok else 'FAILED'}")
    return results


def explorer_screenshots(out: Path, log=print) -> list | None:
    """NAME.png beside each explorer page in SCREENSHOTS: the page opened from file:// in chromium
    (driven by Playwright, as tests/test_explore_browser.py does), stepped and clicked as a reader
    would. None, said in the log, when Playwright or chromium is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log("explorer screenshots skipped: Playwright is not installed (pip install playwright)")
        return None
    if not os.path.exists(CHROMIUM):
        log(f"explorer screenshots skipped: no chromium at {CHROMIUM} (apt-get install chromium)")
        return None
    made = []
    with tempfile.TemporaryDirectory(prefix="docs_chromium_") as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 640})
        for name, (steps, node) in SCREENSHOTS.items():
            page = browser.new_page()
            page.goto((out / name).as_uri())
            for _ in range(steps):
                page.click("#next")
            page.click(f'#graph g.node[data-name="{node}"]')
            target = out / name.replace(".html", ".png")
            page.screenshot(path=str(target))
            made.append(target)
            page.close()
        browser.close()
    return made


def renumbered(svg: str) -> str:
    """The SVG with Graphviz's node names (Python object ids) replaced by n1, n2, … in order."""
    names = {}
    for title in re.findall(r"<title>([^<]*)</title>", svg):
        for number in re.findall(r"\d{6,}", title):
            names.setdefault(number, f"n{len(names) + 1}")
    return re.sub(r"\d{6,}", lambda m: names.get(m.group(0), m.group(0)), svg)


@contextlib.contextmanager
def working_directory(path: Path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def trained_figures(out: Path, fast: bool, log=print) -> dict:
    """Train the two models, write their heatmaps, the decoder-step graph and heatmaps.json."""
    from attention.__main__ import DEMO_DATES, encode_inputs, translate_texts
    from attention.decode import task_class
    from attention.plot import attention_heatmap, draw_decoder_step
    from attention.train import TrainConfig, attention_sharpness, load_checkpoint, train

    record = {"fast": fast, "end": END.isoformat(), "text": TEXT, "runs": {}}
    for name, run in RUNS.items():
        config = TrainConfig(**{**run["settings"], **(FAST if fast else {})})
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"docs_{name}_") as checkpoint:
            history = train(config, checkpoint, log=lambda line: log(f"  {name}: {line}"), progress=False)
            model, human, machine, metadata = load_checkpoint(checkpoint)
        translations, alphas = translate_texts(model, human, machine, [TEXT] + DEMO_DATES, task_class(metadata))
        outputs = [translation.output for translation in translations]
        alpha = alphas[0]
        attention_heatmap(alpha, list(TEXT), list(outputs[0]), str(out / f"heatmap_{name}.png"),
                          title=f"α for {TEXT!r} → {outputs[0]}")
        if name == "healthy":
            with working_directory(ROOT):  # tooltips name source lines relative to the repository
                # top to bottom: a tall chain that a page shows shrunk to its width
                graph = Path(draw_decoder_step(model, encode_inputs([TEXT], human, model.config.Tx), 1,
                                               str(out / "decoder_step_1.svg"), layout="TB"))
            graph.write_text(renumbered(graph.read_text(encoding="utf-8")), encoding="utf-8")
        record["runs"][name] = {
            "command": run["command"], "config": dataclasses.asdict(config),
            "processes": config.process_count(),  # the batch split over (attention/parallel.py)
            "epochs": [{k: round(v, 4) if isinstance(v, float) else v for k, v in epoch.items()
                        if k != "seconds"} for epoch in history["epochs"]],
            "translation": outputs[0],
            "demo": dict(zip(DEMO_DATES, outputs[1:])),  # what `train` prints after training
            "alpha_sharpness": round(attention_sharpness(alpha[None]), 4),
            "alpha": [[round(float(v), 4) for v in row] for row in alpha[:len(outputs[0]), :len(TEXT)]],
        }
        log(f"{name}: {TEXT!r} → {outputs[0]} ({time.perf_counter() - started:.0f}s)")
    with open(out / "heatmaps.json", "w", encoding="utf-8") as file:
        json.dump(record, file, indent=1, ensure_ascii=False)
        file.write("\n")
    return record


def build(out: Path, fast: bool = False, pages_only: bool = False, log=print) -> dict:
    """Every figure into `out`; returns {"pages": {page name: PageResult}, "trained": record,
    "screenshots": the explorer screenshots' paths, or None without a browser}."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    trained = None if pages_only else trained_figures(out, fast, log=log)
    # Then the pages: two of them print the record heatmaps.json keeps in docs/figures.
    pages = page_figures(out, log=log)
    return {"pages": pages, "trained": trained, "screenshots": explorer_screenshots(out, log=log)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DOCS / "figures")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true", help="tiny training: for checking the script, not for committing")
    mode.add_argument("--pages", action="store_true", help="only the graphs the pages draw")
    args = parser.parse_args(argv)
    built = build(args.out, fast=args.fast, pages_only=args.pages)
    failed = [problem for result in built["pages"].values() for problem in result.problems]
    for problem in failed:
        print(problem, end="\n\n", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
