"""Shared fixtures: paths to the real data slices the tests train and read on."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The English data sets beside the repository (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"expected the shared data sets at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sst2_dir(shared_data: Path) -> Path:
    """SST-2 train.tsv and dev.tsv (GLUE format: sentence<TAB>label)."""
    return shared_data / "sst2"


@pytest.fixture(autouse=True)
def hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests never reach the network: a hub spec reads the local cache only (tests fake the hub's data)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_delivered():
    """A shell starts a background job (`make test &`) with SIGINT ignored, and its children inherit that; the
    Ctrl-C tests need Python's own handler, as an interactive run has."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The test models are tiny, and one intra-op thread runs them fastest. On a 2-core machine that
    something else keeps busy, two spinning threads per process oversubscribe the cores: an epoch
    that takes 0.2 s on one thread was measured at 25 s on two."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def gradients_on_two_threads(model, loss, runs: int = 5) -> list[list]:
    """The parameters' gradients of `loss(model)` on `runs` backward passes on two threads (the suite runs on one,
    where any order of sums is fixed), to check that parallel kernels sum them in the same order every time."""
    import torch

    grads = []
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for _ in range(runs):
            model.zero_grad()
            loss(model).backward()
            grads.append([param.grad.clone() for param in model.parameters()])  # every one has a gradient
    finally:
        torch.set_num_threads(threads)
    return grads


SST2_RECIPE = """task = "classification"
[data]
train = "tsv:{folder}/train.tsv"
dev = "tsv:{folder}/dev.tsv"
test = "tsv:{folder}/test.tsv"
text_column = "sentence"
max_length = 64
[model]
embedding_dim = 32
hidden_size = 32
dropout = 0.3
[training]
epochs = 3
batch_size = 32
learning_rate = 0.01
patience = 3
device = "cpu"
baselines = false  # the baselines have their own tests (test_cli.py, test_cli_tagging.py)
plots = false  # the report's plots have theirs (tests/evaluation)
"""


def write_sst2_recipe(sst2_dir: Path, folder: Path, training: str = "") -> Path:
    """A config file for 2,000 SST-2 phrases (dev: the first 400 GLUE dev sentences, test: the next 400), 3 epochs
    of 63 steps; `training` adds lines to its [training] table. Run as a subprocess, it learns in about 10 s."""
    write_slice(sst2_dir / "train.tsv", folder / "train.tsv", 0, 2000)
    write_slice(sst2_dir / "dev.tsv", folder / "dev.tsv", 0, 400)
    write_slice(sst2_dir / "dev.tsv", folder / "test.tsv", 400, 800)
    path = folder / "recipe.toml"
    path.write_text(SST2_RECIPE.format(folder=folder) + training, encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `nlp-lstm ARGV`."""
    from nlp_lstm.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(capsys: pytest.CaptureFixture[str], argv: list[object], *fragments: str) -> str:
    """The command fails with status 1 and one stderr line that holds every fragment."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 1, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nlp-lstm: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_slice(source: Path, target: Path, start: int, stop: int) -> Path:
    """Rows start..stop of a tsv file with a header, written to `target` under the same header."""
    lines = source.read_text(encoding="utf-8").split("\n")
    target.write_text("\n".join([lines[0], *lines[1 + start:1 + stop]]) + "\n", encoding="utf-8")
    return target


def sentence_blocks(path: Path) -> list[str]:
    """The sentences of a CoNLL file as written (lines joined by newlines), -DOCSTART- dropped."""
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return [b.strip("\n") for b in blocks if b.strip() and not b.startswith("-DOCSTART-")]


def write_conll(path: Path, blocks: list[str]) -> Path:
    path.write_text("-DOCSTART- -X- -X- O\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def classifier_run(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SST-2 classifier run (a few dozen steps), shared by the report tests; train() writes its report."""
    from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
    from nlp_lstm.runs import train

    folder = tmp_path_factory.mktemp("sst2")
    write_slice(sst2_dir / "train.tsv", folder / "train.tsv", 0, 400)
    write_slice(sst2_dir / "dev.tsv", folder / "dev.tsv", 0, 100)
    write_slice(sst2_dir / "dev.tsv", folder / "test.tsv", 100, 200)
    config = Config(
        data=DataConfig(train=f"tsv:{folder / 'train.tsv'}", dev=f"tsv:{folder / 'dev.tsv'}",
                        test=f"tsv:{folder / 'test.tsv'}", text_column="sentence", max_length=32),
        tokenizer=TokenizerConfig(kind="word", vocab_size=2000),
        model=ModelConfig(embedding_dim=8, hidden_size=8),
        training=TrainingConfig(epochs=2, batch_size=32, max_steps=20, seed=0, device="cpu"),
    )
    return train(config, folder / "run", progress=False).run_dir


@pytest.fixture(scope="session")
def sst2_600(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.tsv: the first 600 SST-2 training phrases; dev.tsv: the first 100 GLUE dev sentences."""
    folder = tmp_path_factory.mktemp("sst2_600")
    write_slice(sst2_dir / "train.tsv", folder / "train.tsv", 0, 600)
    write_slice(sst2_dir / "dev.tsv", folder / "dev.tsv", 0, 100)
    return folder


@pytest.fixture(scope="session")
def tagger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CoNLL-2003 NER tagger with character CNN, casing features and a CRF, 8 epochs of 300 sentences."""
    from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
    from nlp_lstm.runs import train

    folder = tmp_path_factory.mktemp("ner")
    write_conll(folder / "train.txt", sentence_blocks(SHARED_DATA / "conll2003" / "eng.train")[:300])
    write_conll(folder / "dev.txt", sentence_blocks(SHARED_DATA / "conll2003" / "eng.testa")[:60])
    config = Config(
        task="tagging",
        data=DataConfig(train=f"conll:{folder / 'train.txt'}", dev=f"conll:{folder / 'dev.txt'}", tag_column=3),
        tokenizer=TokenizerConfig(kind="word", lowercase=False, vocab_size=5000),
        model=ModelConfig(embedding_dim=16, hidden_size=16, char_embedding_dim=8, char_filters=8,
                          casing_embedding_dim=4, crf=True),
        training=TrainingConfig(plots=False, epochs=8, batch_size=16, learning_rate=0.01, patience=0, seed=0,
                                device="cpu"),
    )
    return train(config, folder / "run", progress=False).run_dir / "model"


@pytest.fixture(scope="session")
def classifier_dir(sst2_600: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BiLSTM classifier with attention pooling, 60 steps on 600 SST-2 phrases; its model directory."""
    from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
    from nlp_lstm.runs import train

    config = Config(
        data=DataConfig(train=f"tsv:{sst2_600 / 'train.tsv'}", dev=f"tsv:{sst2_600 / 'dev.tsv'}",
                        text_column="sentence", max_length=40),
        tokenizer=TokenizerConfig(kind="word", vocab_size=3000),
        model=ModelConfig(embedding_dim=16, hidden_size=16, num_layers=2, pooling="attention"),
        # fp32 on every CPU: in bf16 dev keeps epoch 2 of 4 (0.57 against 0.55), whose logits hardly move, and
        # test_explain needs a model whose logits do
        training=TrainingConfig(plots=False, epochs=10, batch_size=32, max_steps=60, seed=0, device="cpu",
                                precision="fp32"),
    )
    return train(config, tmp_path_factory.mktemp("clf") / "run", progress=False).run_dir / "model"
