"""`nlp-lstm`: train, evaluate, predict, explain, export, gates and report from the command line."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import ConfigError, DataError, NlpLstmError, TrainingInterrupted


def _probability(option: str, text: str) -> float:
    """The value of --threshold as a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ConfigError(f"The '{option}' option must be a probability in [0, 1]. Got {text!r} instead.")
    return value


def _count(option: str, text: str) -> int:
    """The value of --seeds or --jobs as an int >= 1."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ConfigError(f"The '{option}' option must be an int >= 1. Got {text!r} instead.")
    return count


TASK_NAMES = {"classify": "classification", "classification": "classification", "tag": "tagging",
              "tagging": "tagging"}


def _train_config(args: argparse.Namespace) -> tuple[Any, str]:
    """The config `train` runs and the run's name: a CONFIG file, or --data alone (dev and test carved out)."""
    from .config import config_with_overrides, load_config

    data_options = {"train": args.data, "text_column": args.text_column, "label_column": args.label_column}
    data = {key: value for key, value in data_options.items() if value is not None}
    if args.config is not None:
        if args.task is not None:
            raise ConfigError(f"--task goes with --data alone; {args.config} sets the task itself")
        overrides = [*(f"data.{key}={json.dumps(value)}" for key, value in data.items()), *args.set]
        return load_config(args.config, overrides), Path(args.config).stem
    if args.data is None:
        raise ConfigError("give a config file or the data to train on: nlp-lstm train CONFIG.toml, or "
                          "nlp-lstm train --data csv:reviews.csv [--text-column review --label-column sentiment]")
    task = TASK_NAMES[args.task or "classify"]
    if task == "tagging" and (args.text_column or args.label_column):
        raise ConfigError("--text-column and --label-column name a classifier's columns; a tagger reads "
                          "token/tag files (set data.token_column and data.tag_column for conll files)")
    raw = {"task": task, "data": {"test_fraction": 0.1, **data}}  # a held-out test split by default
    name = Path(args.data.split(":", 1)[-1]).stem or "run"
    return config_with_overrides(raw, args.set, source="--data"), name


def cmd_train(args: argparse.Namespace) -> None:
    from .runs import train

    seeds, jobs = _count("--seeds", args.seeds), _count("--jobs", args.jobs)
    config, name = _train_config(args)
    if args.device is not None:
        config.training.device = args.device
    if args.precision is not None:
        config.training.precision = args.precision
    progress = not args.no_progress
    if args.ensemble:
        if seeds == 1:
            raise ConfigError("--ensemble trains the --seeds N members of one model; give --seeds N (N >= 2)")
        config.training.n_ensemble, seeds = seeds, 1
    if args.overwrite and seeds > 1:
        raise ConfigError("--overwrite replaces one run; give a --seeds run a new --output")
    if args.resume is not None and seeds > 1:
        raise ConfigError("--resume continues one run; resume each seed-K directory of a --seeds run on its own")
    if seeds == 1:
        try:
            train(config, args.output, name=name, progress=progress, resume=args.resume, overwrite=args.overwrite,
                  jobs=jobs)
        except TrainingInterrupted as err:
            run_dir = err.checkpoint_dir.parent if err.checkpoint_dir else args.output
            again = (f"{args.config} --resume {run_dir}" + "".join(f" --set {item}" for item in args.set)
                     if args.config and args.data is None else f"{Path(run_dir) / 'config.toml'} --resume {run_dir}")
            raise TrainingInterrupted(f"{err}; go on with: nlp-lstm train {again}", err.signal_number,
                                      err.checkpoint_dir) from None
        return
    from .seeds import format_summary, train_seeds

    result = train_seeds(config, seeds, args.output, name=name, progress=progress, jobs=jobs)
    print(format_summary(result.summary))
    print(f"seeds: {result.run_dir / 'seeds.md'}  (all metrics: {result.run_dir / 'seeds.json'})")


def cmd_check_data(args: argparse.Namespace) -> int:
    from .checks import run_check_data

    config, _ = _train_config(args)
    return run_check_data(config, args.output, args.label_errors, _count("--folds", args.folds), args.strict)


def cmd_init(args: argparse.Namespace) -> None:
    from .config_docs import commented_config

    sys.stdout.write(commented_config(TASK_NAMES[args.task], args.data or ""))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .runs import evaluate

    evaluate(args.model_dir, args.data, args.output, args.text_column, args.label_column, args.device or "auto")


def _input_texts(args: argparse.Namespace, what: str) -> list[Any]:
    """The texts given as arguments, then those of --input."""
    from .runs import prediction_inputs

    texts = list(args.texts)
    if args.input is not None:
        read, note = prediction_inputs(args.model_dir, args.input, args.text_column)
        if not read:
            raise DataError(f"{args.input}: no texts to {what} (the file is empty)")
        print(note, file=sys.stderr)
        texts += read
    if not texts:
        raise DataError(f"nothing to {what}: give texts as arguments or --input FILE")
    return texts


def cmd_predict(args: argparse.Namespace) -> None:
    from .predictor import prediction_row
    from .runs import predict

    texts = _input_texts(args, "predict")
    top_k = _count("--top-k", args.top_k)
    threshold = _probability("--threshold", args.threshold)
    batch_size = None if args.batch_size is None else _count("--batch-size", args.batch_size)
    predictions = predict(args.model_dir, texts, args.device or "auto", batch_size)
    if predictions and not hasattr(predictions[0], "label") and (top_k > 1 or threshold > 0):
        raise ConfigError("--top-k and --threshold choose among a classifier's labels; this model is a tagger")
    rows = [prediction_row(p, top_k, threshold) for p in predictions]
    if args.output is not None:
        from .io import atomic_write_text

        atomic_write_text(args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"{len(rows)} predictions written to {args.output}")
        return
    for r in rows:
        if "label" in r:
            label = "(none)" if r["label"] is None else r["label"]  # below --threshold: no label
            ranked = "  ".join(f"{name} {p:.4f}" for name, p in r["top_k"][1:])
            print(f"{label}\t{r['probability']:.4f}\t" + (f"{ranked}\t" if ranked else "") + r["text"])
            continue
        print(" ".join(f"{token}/{tag}" for token, tag in zip(r["tokens"], r["tags"])))
        if r["entities"]:
            print("  entities: " + "  ".join(f"{e['type']}[{e['text']}]" for e in r["entities"]))


def cmd_explain(args: argparse.Namespace) -> None:
    from .evaluation.explanations import check_output, terminal_lines, write_explanations
    from .runs import explain

    if args.output is not None:
        check_output(args.output)
    texts = _input_texts(args, "explain")
    steps = {} if args.steps is None else {"steps": _count("--steps", args.steps)}
    explanations = explain(args.model_dir, texts, args.device or "auto", label=args.label, method=args.method,
                           token=args.token, entity=args.entity, **steps)
    if args.output is not None:
        write_explanations(args.output, explanations, f"Token attributions: {args.model_dir}")
        print(f"{len(explanations)} explanations written to {args.output}")
        return
    for explanation in explanations:
        print("\n".join(terminal_lines(explanation)))


def cmd_report(args: argparse.Namespace) -> None:
    from .runs import report

    for name, path in report(args.run_dir).items():
        print(f"{name}: {path}")


def cmd_export(args: argparse.Namespace) -> None:
    from .export import export_and_compare

    out, check = export_and_compare(args.model_dir, args.format, args.output, args.data)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"{args.format} export of {args.model_dir}: {out} ({size / 1e6:.1f} MB)")
    if check is not None:
        change = check["accuracy_exported"] - check["accuracy_original"]
        print(f"on {args.data} ({check['n']:,} {check['unit']}): accuracy {check['accuracy_original']:.4f} -> "
              f"{check['accuracy_exported']:.4f} ({change:+.4f}); same prediction for {check['agreement']:.2%}")


def cmd_serve(args: argparse.Namespace) -> None:
    from .config import ServeConfig
    from .serve import serve

    options = {name: getattr(args, name) for name in SERVE_OPTIONS if getattr(args, name) is not None}
    serve(args.model_dir, ServeConfig(**options, access_log=args.access_log))


def cmd_push(args: argparse.Namespace) -> None:
    from .hub import push

    url = push(args.model_dir, args.repo_id, private=args.private, message=args.message)
    print(f"pushed {args.model_dir} to {url}; load it with: nlp-lstm predict hf://{args.repo_id.removeprefix('hf://')} "
          f"TEXT")


def cmd_gates(args: argparse.Namespace) -> None:
    from .evaluation.gates import plot_gates

    trace = plot_gates(args.model_dir, args.text, args.output, args.layer)
    summary = trace.summary(args.layer)
    print(f"prediction: {trace.prediction}")
    for k, direction in enumerate(["forward", "backward"][: len(summary["forget"])]):
        means = "  ".join(f"{name} {_mean(summary[name][k]):.3f}" for name in ("forget", "input", "output"))
        print(f"{direction:8} mean over {len(trace.tokens)} tokens: {means}  cell-state norm "
              f"{_mean(summary['cell'][k]):.3f}")
    print(f"gate plot: {args.output}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _add_data_options(p: argparse.ArgumentParser, config: str, data: str) -> None:
    """The config and --data options that `train` and `check-data` read alike (`_train_config`)."""
    p.add_argument("config", nargs="?", help=config)
    p.add_argument("--data", metavar="SPEC", help=data)
    p.add_argument("--text-column", help="the column of the texts (data.text_column; default text)")
    p.add_argument("--label-column", help="the column of the labels (data.label_column; default label)")
    p.add_argument("--task", choices=sorted(TASK_NAMES), help="with --data alone: classify (default) or tag")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set training.epochs=3 (repeatable)")


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train and evaluate a model from a TOML config, or from --data alone")
    _add_data_options(p, "recipe or config file, e.g. recipes/sentiment/zh_reviews.toml",
                      "the training data, e.g. csv:reviews.csv; without a config it trains with the defaults and "
                      "carves dev and test (10%% each, stratified) out of it; with one it replaces data.train")
    p.add_argument("--output", help="run directory (default: runs/CONFIG_NAME, numbered if taken)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --output (a folder that holds no run is never touched)")
    p.add_argument("--device", help="auto (default: CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="autocast the training forward pass: bf16 (CUDA or CPU) or fp16 (CUDA, with loss scaling); "
                        "auto: bf16 on a CPU with AVX512-BF16 or AMX, else fp32; default training.precision, auto")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (per-epoch lines only)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="go on with a stopped or killed run of the same config from its last checkpoint; it ends "
                        "with the same weights and metrics as an unbroken run")
    p.add_argument("--seeds", default="1", metavar="N",
                   help="train N seeds (training.seed, +1, ...), each in DIR/seed-K, and write the mean ± std of "
                        "every metric to DIR/seeds.json and seeds.md (default: 1, a single run)")
    p.add_argument("--ensemble", action="store_true",
                   help="with --seeds N: train the N seeds as the members of one model (training.n_ensemble = N) "
                        "that averages their predictions; DIR/model is that model, DIR/members/seed-K each member's "
                        "run")
    p.add_argument("--jobs", default="1", metavar="N",
                   help="with --seeds (or an ensemble): train N seeds at once in separate processes, each with its "
                        "share of the CPU threads and its output in DIR/seed-K.log (default: 1, one after another)")
    p.set_defaults(func=cmd_train, imports=("nlp_lstm.runs", "nlp_lstm.seeds", "sklearn.metrics"))


def _add_check_data(sub: Any) -> None:
    p = sub.add_parser("check-data", help="check labelled data: duplicates, leaks between splits, conflicting labels, "
                                          "balance, lengths, unknown words, scripts, entity-tag transitions")
    _add_data_options(p, "a config or recipe: its data.train, data.dev and data.test are checked",
                      "the data to check, e.g. csv:reviews.csv (with a config it replaces data.train)")
    p.add_argument("--output", metavar="FILE.json", help="also write every finding, with examples, as JSON")
    p.add_argument("--label-errors", action="store_true",
                   help="also find likely label errors in train: out-of-fold probabilities of --folds small "
                        "classifiers, read by confident learning (cleanlab; pip install 'nlp-lstm[check]')")
    p.add_argument("--folds", default="5", metavar="K", help="with --label-errors: the folds (default: 5)")
    p.add_argument("--strict", nargs="?", const="all", metavar="KINDS",
                   help="exit with status 1 when a problem is found: any (--strict), or one of these kinds "
                        "(--strict duplicate,leak)")
    p.set_defaults(func=cmd_check_data, imports=("nlp_lstm.checks",))


def _add_predict(sub: Any) -> None:
    p = sub.add_parser("predict", help="label texts with a saved model")
    p.add_argument("model_dir", help="a model directory, or a hub model: hf://OWNER/NAME")
    p.add_argument("texts", nargs="*", help="texts to label")
    p.add_argument("--input", help="a file or spec of texts: .txt (one text or sentence a line), .jsonl (objects with "
                                   "a text field, or a \"tokens\" list for taggers), .csv / .tsv / .parquet (a text "
                                   "column by name), or KIND:PATH with KIND txt, csv, tsv, jsonl or parquet")
    p.add_argument("--text-column", "--text-field", dest="text_column",
                   help="the column (or jsonl field) holding the texts (default: the one the model was trained with, "
                        "else text)")
    p.add_argument("--output", help="write predictions as JSON lines here instead of printing them (with every "
                                    "label's probability)")
    p.add_argument("--top-k", default="1", metavar="K", help="also show the next K-1 most probable labels")
    p.add_argument("--threshold", default="0", metavar="P",
                   help="abstain below this probability: no label ((none); null in --output)")
    p.add_argument("--batch-size", metavar="N", help="texts per forward pass (default: 256; taggers 128)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_predict, imports=("nlp_lstm.runs",))


def _add_explain(sub: Any) -> None:
    # no choices or defaults from nlp_lstm.attributions here: it loads torch, and `nlp-lstm --help` must not
    p = sub.add_parser("explain", help="which tokens made a saved model say what it did: a signed score per token "
                                       "(Integrated Gradients, or occlusion)")
    p.add_argument("model_dir", help="a model directory (a classifier, tagger, ensemble, ONNX or int8 export), or a "
                                     "hub model: hf://OWNER/NAME")
    p.add_argument("texts", nargs="*", help="texts (a tagger: sentences) to explain")
    p.add_argument("--input", help="a file or spec of texts, as for predict")
    p.add_argument("--text-column", "--text-field", dest="text_column",
                   help="the column (or jsonl field) holding the texts (default: the one the model was trained with)")
    p.add_argument("--label", help="the label to explain (default: the predicted one); a tagger: the tag at --token")
    p.add_argument("--method", help="ig: Integrated Gradients on the word embeddings (the default where the model has "
                                    "gradients); occlusion: each token replaced by <unk> in turn (the default for "
                                    "int8 and ONNX models)")
    p.add_argument("--steps", metavar="N", help="Integrated Gradients steps to start with (more are taken where the "
                                                "scores miss completeness; docs/explain.md)")
    p.add_argument("--token", type=int, metavar="I", help="a tagger: explain the tag of token I (from 0)")
    p.add_argument("--entity", type=int, metavar="I",
                   help="a tagger: explain predicted entity I (from 0; default: the first entity, else token 0)")
    p.add_argument("--output", help="write explain.html (highlighted tokens), explain.json or explain.jsonl instead "
                                    "of printing the scores")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_explain, imports=("nlp_lstm.runs", "nlp_lstm.evaluation.explanations"))


SERVE_OPTIONS = {
    "host": (str, "address to listen on (0.0.0.0: every interface)"),
    "port": (int, "port to listen on"),
    "max_batch_size": (int, "texts per model call: concurrent requests are batched up to it"),
    "max_wait_ms": (float, "how long an idle model waits for more requests before it runs a batch"),
    "max_queue": (int, "texts that may wait for a batch; past it requests get 503 with Retry-After"),
    "max_texts": (int, "texts (or sentences) per request; more is a 422"),
    "max_text_length": (int, "characters per text (or sentence); more is a 422"),
    "max_body_bytes": (int, "largest request body; larger is a 413"),
    "device": (str, "auto, cpu, cuda or cuda:N"),
    "threads": (int, "torch CPU threads (0: one fewer than the cores, leaving one to read requests)"),
    "graceful_timeout": (float, "seconds a stopping server (SIGTERM, Ctrl-C) waits for accepted requests"),
}


def _add_serve(sub: Any) -> None:
    from dataclasses import fields

    from .config import ServeConfig

    defaults = {f.name: f.default for f in fields(ServeConfig)}
    p = sub.add_parser("serve", help="serve a model directory over HTTP: POST /predict, /health, /ready, /model, "
                                     "/metrics, /docs (pip install 'nlp-lstm[serve]')")
    p.add_argument("model_dir", help="a model directory (a classifier, tagger, ensemble, ONNX or int8 export), or a "
                                     "hub model: hf://OWNER/NAME")
    for name, (kind, text) in SERVE_OPTIONS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, metavar=name.split("_")[-1].upper(),
                       help=f"{text} (default: {defaults[name]})")
    p.add_argument("--access-log", action="store_true", help="log every request (off: it costs time under load)")
    p.set_defaults(func=cmd_serve, imports=("nlp_lstm.serve",))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `nlp-lstm` and its subcommands."""
    parser = argparse.ArgumentParser(prog="nlp-lstm",
                                     description="Train, evaluate and use LSTM text classifiers and taggers.")
    parser.add_argument("--version", action="version", version=f"nlp-lstm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_check_data(sub)

    p = sub.add_parser("init", help="print a config with every key, its default and what it does")
    p.add_argument("--task", choices=sorted(TASK_NAMES), default="classify", help="classify (default) or tag")
    p.add_argument("--data", metavar="SPEC", help="the training data to write in, e.g. csv:reviews.csv")
    p.set_defaults(func=cmd_init, imports=("nlp_lstm.config_docs",))

    p = sub.add_parser("evaluate", help="score a saved model on labelled data")
    p.add_argument("model_dir", help="a model directory, e.g. runs/zh_reviews/model, or hf://OWNER/NAME")
    p.add_argument("--data", required=True, help="data spec, e.g. tsv:dev.tsv or embedded:zh-reviews")
    p.add_argument("--output", help="where metrics.json goes (default: beside the model directory)")
    p.add_argument("--text-column", help="text column (default: the one the model was trained with)")
    p.add_argument("--label-column", help="label column (default: the one the model was trained with)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_evaluate, imports=("nlp_lstm.runs", "sklearn.metrics"))
    _add_predict(sub)
    _add_explain(sub)


    p = sub.add_parser("export", help="write an ONNX graph or an int8 (CPU) model directory of a trained model")
    p.add_argument("model_dir", help="a model directory, e.g. runs/zh_reviews/model")
    p.add_argument("--format", required=True, choices=["onnx", "int8"],
                   help="onnx: model.onnx for onnxruntime; int8: LSTM and Linear weights quantized to int8")
    p.add_argument("--output", help="where the export goes (default: MODEL_DIR-FORMAT beside MODEL_DIR)")
    p.add_argument("--data", help="labelled data to compare the export with the original on, e.g. tsv:dev.tsv: "
                                  "prints both accuracies and how often their predictions agree")
    p.set_defaults(func=cmd_export, imports=("nlp_lstm.export",))

    p = sub.add_parser("gates", help="plot a trained model's LSTM gates and cell state at every token of a text")
    p.add_argument("model_dir", help="a model directory, e.g. runs/zh_reviews/model")
    p.add_argument("text", help="the text (a sentence for taggers)")
    p.add_argument("--output", default="gates.png", help="the PNG to write (default: gates.png)")
    p.add_argument("--layer", type=int, default=-1, help="which LSTM layer, from 0 (default: -1, the last)")
    p.set_defaults(func=cmd_gates, imports=("nlp_lstm.evaluation.gates",))

    _add_serve(sub)

    p = sub.add_parser("push", help="upload a model directory, with its model card, to the Hugging Face hub")
    p.add_argument("model_dir", help="a model directory, e.g. runs/zh_reviews/model")
    p.add_argument("repo_id", help="the hub repository, OWNER/NAME (created if missing); log in first with "
                                   "`hf auth login` or set HF_TOKEN")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--message", help="the commit message (default: nlp-lstm model from RUN)")
    p.set_defaults(func=cmd_push, imports=("nlp_lstm.hub",))

    p = sub.add_parser("report", help="(re)write report.md, report.html and plots for a training run")
    p.add_argument("run_dir", help="a run directory, e.g. runs/zh_reviews")
    p.set_defaults(func=cmd_report, imports=("nlp_lstm.runs",))
    return parser


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back until the block ends, then raise it as KeyboardInterrupt."""
    # The block imports torch, scikit-learn and scipy (seconds). A KeyboardInterrupt raised inside a third-party
    # import leaves that module half-initialised, and one passing through the `exec` some of them run makes
    # CPython end the process by SIGINT whatever main returns; so the import finishes first.
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run `nlp-lstm`; a user error prints one line on stderr and exits with status 1."""
    args = build_parser().parse_args(argv)
    # PyTorch's CPU threads on Linux are GNU OpenMP's, whose idle threads spin (300,000 turns by default) before
    # they sleep. When another process shares the cores (`--seeds N --jobs N`, two runs at once), spinning
    # threads take the cores from it; a short spin costs a process alone nothing (docs/performance.md). It only
    # takes effect if torch is not loaded yet, and this command loads it only after this line; a value the user
    # set is kept.
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    try:
        with _sigint_deferred():
            for module in args.imports:
                importlib.import_module(module)
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
    except BrokenPipeError:
        # the reader went away (`nlp-lstm predict ... | head -1`): stop quietly with SIGPIPE's status, as Unix
        # tools do; stdout is pointed at /dev/null so the interpreter's final flush does not complain either
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except TrainingInterrupted as err:
        print(f"nlp-lstm: {err}", file=sys.stderr)
        return 128 + err.signal_number
    except (NlpLstmError, OSError) as err:
        print(f"nlp-lstm: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nlp-lstm: interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
