# The two commands of the README. Both set up what they need on a fresh machine.
#   make bench   the main job: data, asv across every engine environment, report
#   make test    the test suite at tiny scale
PYTHON ?= python3
VENV := .venv
VAEX_VENV := .venvs/vaex
SAIL_VENV := .venvs/sail
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: bench test lint setup clean chromium

# The harness environment of the main job: the package, asv and the report's tools, no engine
# (asv builds each engine an environment of its own); about 40 s to install against 2 min.
$(VENV)/.bench-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[bench]'
	touch $@

# The test environment, the same venv: the harness plus the engines that can share one
# environment, and the test tools.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[test]'
	touch $@

# vaex-core pins pandas<3 and dask<2024.9, so it gets an environment of its own.
$(VAEX_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VAEX_VENV)
	$(VAEX_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VAEX_VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[vaex,vaex-lib]'
	touch $@

# Sail 0.7 serves PySpark clients 4.0-4.2, below the spark extra's newest: its own environment.
$(SAIL_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SAIL_VENV)
	$(SAIL_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(SAIL_VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[sail,sail-lib]'
	touch $@

setup: $(VENV)/.installed $(VAEX_VENV)/.installed $(SAIL_VENV)/.installed

bench: $(VENV)/.bench-installed
	$(VENV)/bin/bakeoff bench $(BENCH_ARGS)

# The report's page is checked in headless Chromium: Debian's package (CI runs as root on a
# fresh Debian machine); elsewhere, without root, the page test says what to install.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get update -qq && apt-get install -y -qq chromium; } \
		|| echo "chromium not installed: the report page test will be skipped"; }

test: setup chromium
	BAKEOFF_ENGINE_PYTHONS="vaex=$(CURDIR)/$(VAEX_VENV)/bin/python,sail=$(CURDIR)/$(SAIL_VENV)/bin/python" \
		$(VENV)/bin/python -m pytest $(TEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .venvs .asv data
