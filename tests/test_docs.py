"""Every shell, Python and TOML block in README.md and docs/*.md runs as written.

Each block runs in a fresh temporary working directory laid out like a checkout: `recipes` links to the
repository's recipes, `../shared/data` to the data sets beside the repository, and `reviews.csv` holds 300
SST-2 training phrases under the columns `review,sentiment` (labels `negative`, `positive`).

- ```bash / sh / shell blocks run with `bash -e -o pipefail`, with the running interpreter's bin folder (the
  `nlp-lstm` and `python` of this virtualenv) first on PATH. A `make TARGET` line runs that target's own
  commands from the Makefile (its set-up prerequisite is this virtualenv). ```console blocks run their
  `$ ` lines the same way.
- ```python blocks run with exec() in a fresh namespace, in the same kind of directory.
- ```toml blocks are config files: each must load with `nlp_lstm.load_config`.
- Other blocks (```text: what a command prints, diagrams) are not run.

An HTML comment on the line(s) right before a fence changes how the block runs; each is visible in the page:

- `<!-- test: skip (REASON) -->`: the block is not run; pytest reports it as skipped with REASON.
- `<!-- test: --set section.key=value ... -->`: tiny settings for a block that trains. In shell blocks the
  arguments go right after every `nlp-lstm train`; in Python blocks they are appended to the overrides of
  every `load_config` call.
- `<!-- test: given runs/NAME ... -->`: before the block runs, runs/NAME holds a finished run of the recipe
  NAME.toml, trained once per session with tiny settings on a slice of its data (GIVEN_RUNS below).

Every run a block trains also gets `training.plots=false` (EVERY_RUN): a report's plots take seconds to draw,
and tests/evaluation checks them; `nlp-lstm report` and `evaluate` still draw theirs.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SHARED_DATA, sentence_blocks, write_conll, write_slice

DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
RUN = SHELL | {"python", "toml"}
NOT_RUN = {"", "text"}  # output and diagrams
FENCE = re.compile(r"^```([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*test:\s*(.*?)\s*-->\s*$")
TINY = ["training.max_steps=3", "training.epochs=1", "model.embedding_dim=16", "model.hidden_size=16"]
EVERY_RUN = ["training.plots=false"]

# NAME -> (recipe, overrides): the runs a `given runs/NAME` marker puts in place. {data} is a folder with
# slices of the shared data sets: 2,000 SST-2 phrases, 300 CoNLL-2003 training and 200 dev sentences.
GIVEN_RUNS = {
    "sst2": ("recipes/sentiment/sst2.toml",
             ["data.train=tsv:{data}/sst2-train.tsv", f"data.dev=tsv:{SHARED_DATA}/sst2/dev.tsv", *TINY]),
    "conll2003_ner": ("recipes/tagging/conll2003_ner.toml",
                      ["data.train=conll:{data}/eng.train", "data.dev=conll:{data}/eng.testa", *TINY,
                       "model.char_embedding_dim=8", "model.char_filters=8"]),
}


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    markers: list[str]

    @property
    def id(self) -> str:
        first = next((line for line in self.code.splitlines() if line.strip()), "")[:40]
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}:{first}"


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the test markers on the lines right before it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks, k = [], 0
    while k < len(lines):
        opening = FENCE.match(lines[k])
        if not opening:
            k += 1
            continue
        markers, j = [], k - 1
        while j >= 0 and MARKER.match(lines[j]):
            markers.insert(0, MARKER.match(lines[j]).group(1))
            j -= 1
        end = next((e for e in range(k + 1, len(lines)) if lines[e].rstrip() == "```"), None)
        assert end is not None, f"{path}:{k + 1}: the fence opened here is never closed"
        blocks.append(Block(path, k + 1, opening.group(1).lower(), "\n".join(lines[k + 1:end]) + "\n", markers))
        k = end + 1
    return blocks


ALL_BLOCKS = [b for path in DOC_FILES for b in fenced_blocks(path)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.language in RUN]


@dataclass
class Markers:
    skip: str | None
    overrides: list[str]
    given: list[str]


def parse_markers(block: Block) -> Markers:
    skip, overrides, given = None, [], []
    for text in block.markers:
        if text.startswith("skip"):
            reason = re.fullmatch(r"skip \((.+)\)", text)
            assert reason, f"{block.id}: a skip marker needs a reason: <!-- test: skip (REASON) -->"
            skip = reason.group(1)
        elif text.startswith("--set"):
            words = shlex.split(text)
            assert words[::2] == ["--set"] * len(words[::2]), f"{block.id}: expected --set k=v ..., got {text!r}"
            overrides += words[1::2]
        elif text.startswith("given "):
            for path in text.split()[1:]:
                name = path.removeprefix("runs/")
                assert name in GIVEN_RUNS, f"{block.id}: no given run {path}; known: {sorted(GIVEN_RUNS)}"
                given.append(name)
        else:
            raise AssertionError(f"{block.id}: unknown test marker {text!r}")
    return Markers(skip, overrides, given)


def make_target(target: str) -> list[str]:
    """The commands of a Makefile target (not its prerequisites), with the virtualenv's bin folder left to PATH."""
    lines = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").split("\n")
    start = next(k for k, line in enumerate(lines) if re.match(rf"{re.escape(target)}\s*:", line))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        command = line.strip().replace("$(BIN)/", "")
        assert "$(" not in command, f"Makefile target {target}: cannot run {command!r} outside make"
        commands.append(command)
    return commands


def shell_script(block: Block, overrides: list[str]) -> str:
    lines = block.code.split("\n")
    if block.language == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    script = []
    for line in lines:
        make = re.match(r"\s*make\s+(\w+)", line)
        script += make_target(make.group(1)) if make else [line]
    extra = "".join(f" --set {shlex.quote(o)}" for o in [*overrides, *EVERY_RUN])
    return "\n".join(re.sub(r"\bnlp-lstm train\b", "nlp-lstm train" + extra, line) for line in script) + "\n"


@pytest.fixture(scope="session")
def given_runs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    """NAME -> a finished tiny run of GIVEN_RUNS[NAME], trained the first time a block asks for it."""
    from nlp_lstm import load_config, train

    data = tmp_path_factory.mktemp("given-data")
    write_slice(shared_data / "sst2" / "train.tsv", data / "sst2-train.tsv", 0, 2000)
    conll = shared_data / "conll2003"
    write_conll(data / "eng.train", sentence_blocks(conll / "eng.train")[:300])
    write_conll(data / "eng.testa", sentence_blocks(conll / "eng.testa")[:200])
    runs: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in runs:
            recipe, overrides = GIVEN_RUNS[name]
            config = load_config(REPO_ROOT / recipe, [o.format(data=data) for o in overrides] + EVERY_RUN)
            runs[name] = train(config, tmp_path_factory.mktemp("given") / name, progress=False).run_dir
        return runs[name]

    return get


@pytest.fixture
def workdir(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory like a checkout's root: recipes/, ../shared/data and reviews.csv."""
    (tmp_path / "shared").symlink_to(shared_data.parent, target_is_directory=True)
    work = tmp_path / "work"
    work.mkdir()
    (work / "recipes").symlink_to(REPO_ROOT / "recipes", target_is_directory=True)
    rows = (shared_data / "sst2" / "train.tsv").read_text(encoding="utf-8").split("\n")[1:301]
    with open(work / "reviews.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        for row in rows:
            sentence, label = row.split("\t")
            writer.writerow([sentence.strip(), "positive" if label == "1" else "negative"])
    monkeypatch.chdir(work)
    monkeypatch.setenv("NLP_LSTM_CACHE", str(tmp_path / "cache"))
    return work


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # no CJK font here: the report says so itself
@pytest.mark.parametrize("block", RUN_BLOCKS, ids=lambda b: b.id)
def test_block_runs(block: Block, workdir: Path, given_runs, monkeypatch: pytest.MonkeyPatch) -> None:
    markers = parse_markers(block)
    if markers.skip:
        pytest.skip(markers.skip)
    for name in markers.given:
        shutil.copytree(given_runs(name), workdir / "runs" / name)
    if block.language in SHELL:
        run_shell(block, markers, workdir)
    elif block.language == "python":
        run_python(block, markers, monkeypatch)
    else:
        check_toml(block, workdir)


def run_shell(block: Block, markers: Markers, workdir: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    script = shell_script(block, markers.overrides)
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (f"{block.id} failed with status {done.returncode}\n--- script\n{script}"
                                  f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


def run_python(block: Block, markers: Markers, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    import nlp_lstm
    import nlp_lstm.config

    matplotlib.use("Agg")
    load_config = nlp_lstm.config.load_config

    def with_overrides(path, overrides=()):
        return load_config(path, [*overrides, *markers.overrides, *EVERY_RUN])

    monkeypatch.setattr(nlp_lstm, "load_config", with_overrides)
    monkeypatch.setattr(nlp_lstm.config, "load_config", with_overrides)
    source = "\n" * block.line + block.code  # tracebacks name the Markdown file's own line numbers
    exec(compile(source, str(block.path), "exec"), {"__name__": "__docs__"})


def check_toml(block: Block, workdir: Path) -> None:
    from nlp_lstm import load_config

    path = workdir / "block.toml"
    path.write_text(block.code, encoding="utf-8")
    load_config(path)


def test_every_fence_is_run_or_output() -> None:
    """A block in a language the test does not know would silently never run."""
    unknown = [b.id + f" ({b.language})" for b in ALL_BLOCKS if b.language not in RUN | NOT_RUN]
    assert not unknown, f"fences in a language this test neither runs nor knows as output: {unknown}"


def test_markers_sit_right_before_a_fence() -> None:
    """A marker separated from its fence by text would silently not apply."""
    strays = []
    for path in DOC_FILES:
        lines = path.read_text(encoding="utf-8").split("\n")
        for k, line in enumerate(lines):
            if MARKER.match(line) and not (k + 1 < len(lines) and (MARKER.match(lines[k + 1])
                                                                  or FENCE.match(lines[k + 1]))):
                strays.append(f"{path.relative_to(REPO_ROOT)}:{k + 1}")
    assert not strays, f"test markers not followed by a fence: {strays}"


def _anchor(heading: str) -> str:
    """GitHub's id for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_pages_resolve() -> None:
    """Every relative link of README.md and docs/*.md names a file that exists, and a heading where it has #."""
    broken = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"\w+://", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists():
                broken.append(f"{path.relative_to(REPO_ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md":
                prose = re.sub(r"^```.*?^```", "", linked.read_text(encoding="utf-8"), flags=re.M | re.S)
                headings = re.findall(r"^#+ (.+)$", prose, re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{path.relative_to(REPO_ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_make_run_and_make_test_are_what_readme_says() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert make_target("run") == ["nlp-lstm train recipes/sentiment/zh_reviews.toml"]
    assert "`.venv/bin/nlp-lstm train recipes/sentiment/zh_reviews.toml`" in readme
    assert any("pytest" in command for command in make_target("test"))
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
