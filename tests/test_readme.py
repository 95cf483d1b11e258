"""The README is the truth: its first look prints what it shows, and CI runs its two commands."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
sys.path.insert(0, str(ROOT / "docs"))

import run_pages  # noqa: E402  (docs/ is not a package)


def section(title: str) -> str:
    return re.split(r"^## ", README.split(f"\n## {title}\n", 1)[1], flags=re.M)[0]


def commands(title: str) -> list[str]:
    """The lines of the ```bash blocks of a README section."""
    blocks = re.findall(r"```bash\n(.*?)```", section(title), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_first_look_prints_what_the_readme_shows(tmp_path):
    page = tmp_path / "first_look.md"
    page.write_text(section("A first look"), encoding="utf-8")
    result = run_pages.run_page(page, tmp_path / "work")
    assert result.ok, "\n\n".join(result.problems)
    assert len(result.results) == 1 and (tmp_path / "work" / "first_look.svg").is_file()


def test_ci_runs_the_readmes_two_commands_exactly():
    demo, tests = commands("Two commands")
    assert demo == 'pip install -e ".[plots,progress]" && python -m attention train --out runs/dates'
    assert tests == 'pip install -e ".[test]" && pytest'
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    for command in (demo, tests):
        assert command in ci, f".ci/run does not run the README's command as written: {command}"
