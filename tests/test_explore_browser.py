"""The explorer page in a real browser (Playwright driving Debian's chromium), opened from file://:
what a person sees and does. Skipped, with the reason, only where Playwright or chromium is absent.

    apt-get install -y chromium && pip install playwright     (no `playwright install`)
    MINIGRAD_CHROMIUM=/path/to/chromium                       another browser binary
"""
import io
import os
import shutil
import tempfile

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz.draw import summarise

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("MINIGRAD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None
if sync_playwright is None:
    pytestmark = [pytestmark, pytest.mark.skip(reason="Playwright is not installed (pip install playwright)")]
elif not os.path.exists(CHROMIUM):
    pytestmark = [pytestmark, pytest.mark.skip(reason=f"no chromium at {CHROMIUM} (apt-get install chromium, "
                                                      "or set MINIGRAD_CHROMIUM)")]


@pytest.fixture(scope="module")
def model_graph():
    """A small encoder–decoder's loss, after the user's own backward."""
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(0)
    model = Seq2SeqAttention(ModelConfig(input_vocab=7, output_vocab=5, Tx=4, Ty=2, n_a=2, n_s=3,
                                         score="bahdanau"))
    logits, alpha = model(np.array([[1, 4, 2, 6]]))
    loss = mg.cross_entropy(logits, np.array([[3, 1]])).named("loss")
    loss.backward()
    tensors = mg.topological_order(loss, all_inputs=True)
    return {"loss": loss, "tensors": tensors, "key": {t: f"t{i}" for i, t in enumerate(tensors)},
            "named": {t.name: t for t in tensors if t.name}}


@pytest.fixture(scope="module")
def page_file(model_graph, tmp_path_factory):
    path = tmp_path_factory.mktemp("explorer") / "backward.html"
    before = {t: t.grad for t in model_graph["tensors"]}
    mg.explore(model_graph["loss"], highlight=("alpha<1,·>", "c<1>"), path=path)
    assert all(t.grad is before[t] for t in model_graph["tensors"])  # exploring left them alone
    return path


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="minigrad_chromium_"), executable_path=CHROMIUM, args=ARGS,
            headless=True, viewport={"width": 1400, "height": 900})
        yield context
        context.close()


@pytest.fixture
def page(browser, page_file):
    """The page opened from file://, with every request and console message recorded."""
    tab = browser.new_page()
    tab.requests, tab.problems = [], []
    tab.on("request", lambda request: tab.requests.append(request.url))
    tab.on("console", lambda message: message.type in ("error", "warning") and tab.problems.append(message.text))
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))
    tab.goto(page_file.as_uri())
    tab.wait_for_selector("#step-label:has-text('step 0')")
    yield tab
    tab.close()


def grad_texts(page) -> dict:
    """{tensor key: the gradient line its node shows}, as the page shows it now."""
    return page.evaluate("""() => {
        const shown = {};
        document.querySelectorAll('#graph g.node[data-key^="t"]').forEach(g => {
            const line = [...g.querySelectorAll('text')].map(t => t.textContent.replace(/\\u00a0/g, ' '))
                .find(text => text.startsWith('grad '));
            if (line) shown[g.dataset.key] = line;
        });
        return shown;
    }""")


def shown_numbers(page, role: str) -> np.ndarray:
    return np.array([float(text.replace("−", "-")) for text in
                     page.locator(f"#details [data-role={role}] td").all_text_contents()])


def test_the_first_step_is_the_loss_op(page, model_graph):
    loss_key = model_graph["key"][model_graph["loss"]]
    current = page.locator("#graph g.node.current")
    assert current.count() == 1
    op = current.first.get_attribute("data-key")
    edges = page.evaluate("() => [...document.querySelectorAll('#graph g.edge title')].map(t => t.textContent)")
    assert f"{op}->{loss_key}" in edges  # the yellow op is the one that made the loss
    fill = current.locator("ellipse").first.evaluate("e => getComputedStyle(e).fill")
    assert fill == "rgb(255, 217, 47)"
    assert "Step 0: Mean" in page.text_content("#step-info")


def test_next_k_times_shows_exactly_the_gradients_filled_in_by_step_k(page, model_graph):
    loss, key = model_graph["loss"], model_graph["key"]
    tensors = model_graph["tensors"]
    saved = {t: t.grad for t in tensors}
    for t in tensors:
        t.grad = None
    expected = {}
    try:
        for step in mg.backward_steps(loss):
            expected[step.index] = {key[t]: "grad " + summarise(t.grad) for t in tensors
                                    if t.grad is not None and t.requires_grad}
    finally:
        for t in tensors:
            t.grad = saved[t]
    drawn = set(grad_texts(page))
    clicked = 0
    for k in (1, 2, 7, 30, len(expected) - 1):
        while clicked < k:
            page.click("#next")
            clicked += 1
        shown = {name: text for name, text in grad_texts(page).items() if text != "grad —"}
        assert shown == {name: text for name, text in expected[k].items() if name in drawn}, f"after step {k}"
        assert page.text_content("#step-label") == f"step {k} of 0–{len(expected) - 1}"


def test_clicking_alpha_shows_its_gradient(page, model_graph):
    alpha = model_graph["named"]["alpha<1,·>"]
    page.click("#last")
    page.click('#graph g.node[data-name="alpha<1,·>"]')
    assert page.text_content("#details h2") == "alpha<1,·>"
    np.testing.assert_allclose(shown_numbers(page, "grad"), alpha.grad.reshape(-1), rtol=6e-4, atol=1e-12)
    np.testing.assert_allclose(shown_numbers(page, "data"), alpha.data.reshape(-1), rtol=6e-4, atol=1e-12)
    assert "attention/additive.py:" in page.text_content("#details")  # the line that made it

    page.click('#graph g.node[data-key="' + model_graph["key"][alpha] + '"]')
    page.click("#first")
    assert page.locator("#details [data-role=grad-pending]").count() == 1  # not yet at step 0


def test_clicking_an_op_shows_its_derivative_and_what_it_sent(page, model_graph):
    c = model_graph["named"]["c<1>"]
    page.click("#last")
    edges = page.evaluate("() => [...document.querySelectorAll('#graph g.edge title')].map(t => t.textContent)")
    op_key = next(e.split("->")[0] for e in edges if e.endswith("->" + model_graph["key"][c]))
    page.click(f'#graph g.node[data-key="{op_key}"]')
    assert page.text_content("#details h2") == "MatMul"
    assert mg.ops.MatMul.__doc__.split("\n")[0].strip() in page.text_content("#details pre")
    step = next(s for s in mg.backward_steps(model_graph["loss"]) if s.output is c)
    sent = page.locator("#details [data-role=sent]")
    assert sent.count() == 2
    for i, gradient in enumerate(step.grad_inputs):
        numbers = [float(x.replace("−", "-")) for x in sent.nth(i).locator("td").all_text_contents()]
        np.testing.assert_allclose(numbers, gradient.reshape(-1), rtol=6e-4, atol=1e-12)


def test_collapsing_encoder_hides_its_nodes(page):
    inside = page.locator('#graph g.node[data-name="a<1>"]')
    outside = page.locator('#graph g.node[data-name="alpha<1,·>"]')
    assert inside.is_visible() and outside.is_visible()
    page.check('#scopes input[data-scope="encoder"]')
    assert inside.is_hidden() and outside.is_visible()
    assert page.locator('#graph g.collapsed-scope[data-scope="encoder"]').is_visible()
    page.uncheck('#scopes input[data-scope="encoder"]')
    assert inside.is_visible()


def test_highlight_paths_and_search(page, model_graph):
    on_path = lambda name: page.locator(f'#graph g.node[data-name="{name}"]').first.evaluate(  # noqa: E731
        "g => g.classList.contains('on-path')")
    assert on_path("alpha<1,·>") and on_path("c<1>") and on_path("loss")  # highlight= at first
    assert not on_path("e<1,·>")  # upstream of α: not on its path to the loss
    page.click("#clear-highlight")
    assert not on_path("alpha<1,·>")
    page.select_option("#quick-highlights select", label="e<2,·>")
    assert on_path("e<2,·>") and on_path("alpha<2,·>") and not on_path("alpha<1,·>")
    page.fill("#search", "s<1>")
    page.press("#search", "Enter")
    assert page.text_content("#details h2") == "s<1>"


def test_the_page_stays_offline_error_free_and_visible(page, tmp_path):
    page.click("#play")
    page.wait_for_timeout(1500)
    page.click("#play")
    page.click("#zoom-fit")
    page.fill("#search", "alpha")
    page.keyboard.press("ArrowRight")
    assert not [url for url in page.requests if not url.startswith("file://")]
    assert page.problems == []
    shot = tmp_path / "explorer.png"
    page.screenshot(path=str(shot))
    from matplotlib.image import imread
    pixels = imread(io.BytesIO(shot.read_bytes()))[..., :3]
    assert pixels.std() > 0.05  # not blank: a graph, text and colours on a white page
    assert (pixels.min(axis=-1) < 0.5).mean() > 0.005


def test_in_a_notebook_the_frame_has_the_same_controls(browser, model_graph, tmp_path):
    notebook = tmp_path / "notebook.html"
    explorer = mg.explore(model_graph["loss"])
    notebook.write_text(f"<!DOCTYPE html><html><body><p>cell output:</p>{explorer._repr_html_()}</body></html>",
                        encoding="utf-8")
    tab = browser.new_page()
    problems = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.goto(notebook.as_uri())
    frame = tab.frame_locator("iframe")
    frame.locator("#next").click()
    assert frame.locator("#step-label").text_content().startswith("step 1 of ")
    assert problems == []
    tab.close()
