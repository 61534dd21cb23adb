"""README's quick snippets run as written."""

import re

from conftest import REPO_ROOT


def python_blocks():
    return re.findall(r"```python\n(.*?)```", (REPO_ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def test_torchtext_port_snippet_runs():
    [block] = [b for b in python_blocks() if "build_vocab_from_iterator" in b]
    exec(compile(block, "README.md", "exec"), {})


def test_readme_gives_the_two_commands_ci_uses():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
