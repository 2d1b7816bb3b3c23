# The exercise-4 report: `make report` builds report/build/report.pdf, `make test` runs the tests.
# Incremental: a task's notebook reruns only when the notebook, its helpers, its data or its
# parameters changed. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# ---------------------------------------------------------------- environment
# Use the active virtual environment, or create .venv.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := $(CURDIR)/.venv
endif
BOOTSTRAP_PYTHON ?= python3
PYTHON := $(VENV)/bin/python
SETUP := $(VENV)/.mlcms-requirements

# Reproducible builds: dates come from the last commit, hashing is seeded.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL ?= 2

# ---------------------------------------------------------------- tasks
# A task's id is its notebook's name (task1_pca, ...): figures/<id>/, results/<id>.json, params/<id>.yaml.
NOTEBOOKS := $(sort $(wildcard notebooks/task*.ipynb))
TASKS := $(basename $(notdir $(NOTEBOOKS)))
EXECUTED := $(TASKS:%=build/notebooks/%.ipynb)
SWEEP_GRIDS := $(sort $(wildcard params/sweeps/*.yaml))
SWEEPS := $(SWEEP_GRIDS:params/sweeps/%.yaml=build/sweeps/%.json)
REPORT := report/build/report.pdf

# What each notebook and sweep reads (helper modules, data files, sweep results) is derived from
# their code by helpers/deps.py: HELPERS_<task>, DATA_<task>, SWEEP_<task>, SWEEP_*_<sweep>.
DEPS := build/deps.mk
ifneq ($(filter report notebooks sweep build/% report/%,$(MAKECMDGOALS)),)
include $(DEPS)
endif
$(DEPS): $(NOTEBOOKS) $(SWEEP_GRIDS) $(wildcard helpers/*.py) | $(SETUP)
	@"$(PYTHON)" -m helpers.deps --out $@ $(NOTEBOOKS) $(SWEEP_GRIDS)

DATA_FILES := pca_dataset.txt data_DMAP_PCA_vadere.txt FireEvac_train_set.npy \
              FireEvac_test_set.npy face.dat mnist.npz
DATA_STAMPS := $(DATA_FILES:%=build/data/%.sha256)

.PHONY: help setup system-deps data notebooks sweep report test bench bench-pca bench-dmaps bench-vae lab \
        check-reproducible clean distclean FORCE

help:
	@echo "make report              run the notebooks that changed and build $(REPORT)"
	@echo "make test                lint and run the tests (unit, data, notebook smoke runs, report)"
	@echo "make notebooks           only run the notebooks (build/notebooks/*.ipynb, figures/, results/)"
	@echo "make sweep               run the Task 4 hyper-parameter sweep (build/sweeps/; also part of make report)"
	@echo "make data                find or download every data set and verify its checksum"
	@echo "make bench               run the benchmarks (bench/)"
	@echo "make check-reproducible  build twice from scratch and compare figures and PDF byte by byte"
	@echo "make lab                 open the notebooks in JupyterLab"
	@echo "make clean               remove generated files (distclean: also .venv and data/)"

# ---------------------------------------------------------------- set-up
setup: $(SETUP)

$(SETUP): requirements.txt pyproject.toml
	@if [ ! -x "$(PYTHON)" ]; then echo "==> creating virtual environment $(VENV)"; $(BOOTSTRAP_PYTHON) -m venv "$(VENV)"; fi
	@echo "==> installing Python requirements into $(VENV)"
	@"$(PYTHON)" -m pip install --upgrade pip > "$(VENV)/pip.log" 2>&1 \
	    && "$(PYTHON)" -m pip install -r requirements.txt -e . >> "$(VENV)/pip.log" 2>&1 \
	    || { tail -n 40 "$(VENV)/pip.log"; echo "pip failed; full log: $(VENV)/pip.log" >&2; exit 1; }
	@touch $@

system-deps:
	@scripts/system-deps.sh

# Stamps are rewritten only when a file's checksum changes, so tasks rerun only then.
data: $(DATA_STAMPS)
$(DATA_STAMPS) &: FORCE | $(SETUP)
	@"$(PYTHON)" -m helpers.data stamp build/data

# ---------------------------------------------------------------- notebooks and report
notebooks: $(EXECUTED)

# papermill writes into build/notebooks/.partial/ and the result is moved into place only on
# success; a failing cell stops the build with its traceback (the partial notebook stays for a look).
.SECONDEXPANSION:
build/notebooks/%.ipynb: notebooks/%.ipynb params/%.yaml $$(HELPERS_$$*) $$(SWEEP_$$*) \
                         $$(addprefix build/data/,$$(addsuffix .sha256,$$(DATA_$$*))) | $(SETUP)
	@echo "==> running $< (parameters: params/$*.yaml)"
	@mkdir -p $(@D)/.partial
	@"$(PYTHON)" -m papermill "$<" "$(@D)/.partial/$*.ipynb" -f "params/$*.yaml" --cwd notebooks \
	    --progress-bar --log-output
	@mv "$(@D)/.partial/$*.ipynb" "$@"

# A sweep runs its notebook once per configuration with papermill (trained models are cached
# in build/cache, shared with the task's notebook) and writes the table to build/sweeps/<name>.json.
sweep: $(SWEEPS)

build/sweeps/%.json: params/sweeps/%.yaml $$(SWEEP_NOTEBOOK_$$*) $$(SWEEP_HELPERS_$$*) \
                     $$(addprefix build/data/,$$(addsuffix .sha256,$$(SWEEP_DATA_$$*))) | $(SETUP)
	@echo "==> sweep $< (one papermill run per configuration)"
	@"$(PYTHON)" -m helpers.sweep "$<" "build/sweeps/$*" --set cache_dir=build/cache

report: $(REPORT)

# helpers/report.py compiles in a scratch folder and replaces the PDF only on success.
$(REPORT): $(EXECUTED) report/report.tex.j2 report/metadata.yaml $(wildcard report/templates/section/*) \
           helpers/report.py helpers/notebook.py helpers/atomic.py | system-deps
	@echo "==> building $@"
	@"$(PYTHON)" -m helpers.report --notebooks build/notebooks --results results --out $@

# ---------------------------------------------------------------- checks
test: $(SETUP)
	@scripts/system-deps.sh --try
	@$(MAKE) --no-print-directory data
	@echo "==> ruff (helpers, tests, bench and the notebooks' code cells)"
	@"$(PYTHON)" -m ruff check helpers tests bench notebooks
	@echo "==> pytest"
	@"$(PYTHON)" -m pytest $(PYTEST_ARGS)

bench: bench-pca bench-dmaps bench-vae

bench-pca: $(SETUP) data
	@"$(PYTHON)" bench/bench_pca.py

# datafold pins older numpy and scikit-learn, so it lives in a virtual environment of its own.
DATAFOLD_VENV := bench/.venv-datafold
$(DATAFOLD_VENV)/.installed:
	@echo "==> creating $(DATAFOLD_VENV) with datafold (the reference for bench-dmaps)"
	@$(BOOTSTRAP_PYTHON) -m venv $(DATAFOLD_VENV)
	@$(DATAFOLD_VENV)/bin/python -m pip install --quiet datafold==2.0.2 > $(DATAFOLD_VENV)/pip.log 2>&1 \
	    || { tail -n 20 $(DATAFOLD_VENV)/pip.log; exit 1; }
	@touch $@

bench-vae: $(SETUP) data
	@"$(PYTHON)" bench/bench_vae.py $(BENCH_ARGS)

bench-dmaps: $(SETUP) $(DATAFOLD_VENV)/.installed
	@"$(PYTHON)" bench/bench_dmaps.py --datafold-python $(DATAFOLD_VENV)/bin/python $(BENCH_ARGS)

check-reproducible: $(SETUP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for run in 1 2; do \
	    rm -rf build/notebooks figures/*/ results report/build; \
	    $(MAKE) --no-print-directory report >/dev/null; \
	    find figures $(REPORT) -type f \( -name '*.pdf' -o -name '*.png' \) -print0 | sort -z \
	        | xargs -0 sha256sum > "$$tmp/run$$run.txt"; \
	done; \
	if diff -u "$$tmp/run1.txt" "$$tmp/run2.txt"; then \
	    echo "reproducible: $$(wc -l < "$$tmp/run1.txt") figures and the PDF are byte-identical across two builds"; \
	else echo "NOT reproducible: the files above differ between two builds" >&2; exit 1; fi

lab: $(SETUP)
	@"$(PYTHON)" -m jupyter lab notebooks/

# ---------------------------------------------------------------- cleaning
# clean keeps build/cache (trained models, which take minutes to recompute) and figures/README.md;
# distclean removes the cache too.
clean:
	rm -rf build/notebooks build/data build/deps.mk $(wildcard figures/*/) results report/build .pytest_cache .ruff_cache

distclean: clean
	rm -rf build "$(CURDIR)/.venv" $(filter-out data/README.md,$(wildcard data/*))

FORCE:
