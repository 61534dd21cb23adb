"""What each config key means, read from the comments beside the fields in config.py (one owner: the comment
there). `nlp-lstm init` writes them into a commented config; the estimators' docstrings list them."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize

from .config import TASK_KEYS, Config, toml_value

SECTIONS = ("data", "tokenizer", "model", "training")


def field_docs(section_cls: type) -> dict[str, str]:
    """Field name -> its comment in config.py: the comment on its line, after the comment lines right above it."""
    source = textwrap.dedent(inspect.getsource(section_cls))
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.add(token.start[0])
    docs = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above, line = [], node.lineno - 1
            while line in comments and line not in code_lines:
                above.insert(0, comments[line])
                line -= 1
            docs[node.target.id] = " ".join([*above, comments.get(node.lineno, "")]).strip()
    return docs


def commented_config(task: str = "classification", train: str = "") -> str:
    """A TOML config with every key the task reads, at its default for that task, each with its comment; like
    `nlp-lstm train --data`, it holds 10% of the data out as a test split."""
    config = Config.from_dict({"task": task, "data": {"train": train, "test_fraction": 0.1}})
    other = set().union(*(keys for name, keys in TASK_KEYS.items() if name != task))
    lines = ["# An nlp-lstm config: every key with its default for this task and what it does (nlp-lstm init).",
             "# Train with: nlp-lstm train THIS_FILE.toml; --set section.key=value overrides any key.",
             "", f"task = {toml_value(task)}"]
    for section in SECTIONS:
        values = getattr(config, section)
        docs = field_docs(type(values))
        lines += ["", f"[{section}]"]
        for field in dataclasses.fields(values):
            if f"{section}.{field.name}" in other:
                continue
            line = f"{field.name} = {toml_value(getattr(values, field.name))}"
            lines.append(f"{line}  # {docs[field.name]}" if docs.get(field.name) else line)
    return "\n".join(lines) + "\n"
