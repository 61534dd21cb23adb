# The two commands README.md gives: `make run` (set up, train + evaluate the default sentiment
# recipe on the embedded Chinese review corpus) and `make test` (set up, run the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build that lies on these machines' disk (any other spec downloads CUDA)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/nlp-lstm train recipes/sentiment/zh_reviews.toml

test: setup
	$(BIN)/ruff check nlp_lstm tests scripts recipes
	# two test processes (pytest-xdist): the suite is mostly single-threaded Python, and CI has two cores; a
	# process that runs out of tests takes some of the other's (worksteal), so neither idles near the end
	$(BIN)/python -m pytest -q -n 2 --dist worksteal

clean:
	rm -rf $(VENV) runs
