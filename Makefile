# The exercise-4 report: `make report` builds report/build/report.pdf, `make test` runs the tests.
# Incremental: a task's notebook reruns only when the notebook, its helpers, its data or its
# parameters changed. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

# ---------------------------------------------------------------- environment
# make splits file names at spaces: in a checkout or an environment whose path holds one, it would
# install half and fail ever after, so it refuses at once.
ifneq ($(words $(CURDIR)),1)
$(error the checkout's path "$(CURDIR)" holds a space, which make cannot handle in file names; clone the repository into a folder whose path has none)
endif
# Use the active virtual environment, or create .venv.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := $(CURDIR)/.venv
endif
ifneq ($(words $(VENV)),1)
$(error the virtual environment's path "$(VENV)" holds a space, which make cannot handle; use one whose path has none)
endif
BOOTSTRAP_PYTHON ?= python3
PYTHON := $(VENV)/bin/python
SETUP := $(VENV)/.mlcms-requirements
HELPER_FILES := $(wildcard helpers/*.py helpers/*/*.py)

# MLCMS_DATA_DIR is used as given (a relative one from the repository root, helpers/core/data.py); make
# never splits it, so a folder whose name holds a space works.

# Reproducible builds: dates come from the last commit, hashing is seeded.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL ?= 2
# The Keras backend is always explicit, so that a change of it reruns the tasks that use Keras.
export KERAS_BACKEND ?= tensorflow

# Independent notebooks run at the same time (JOBS, default: the number of cores; JOBS=1: one after
# another); inside them, independent trainings and sweep points go to helpers/core/executor.py: a process
# per core, or the Dask cluster at MLCMS_SCHEDULER (e.g. MLCMS_SCHEDULER=tcp://10.0.0.5:8786 make report).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
export MLCMS_SCHEDULER ?=

# Every step of a build records its time into a folder of that build (helpers/core/timings.py); at the
# end, build/timings.json gathers them and a summary is printed. Recipes that run in an inner make
# see the outer build's folder.
ifneq ($(filter report notebooks sweep,$(MAKECMDGOALS)),)
ifndef MLCMS_BUILD_STARTED
export MLCMS_BUILD_STARTED := $(shell date +%s.%N)
export MLCMS_TIMINGS := $(CURDIR)/build/timings/$(shell date +%Y%m%dT%H%M%S).$(shell echo $$PPID)
endif
endif
TIMED = start=$$(date +%s.%N)
RECORD = "$(PYTHON)" -m helpers.core.timings record

# ---------------------------------------------------------------- tasks
# A task's id is its notebook's name (task1_pca, ...): figures/<id>/, results/<id>.json, params/<id>.yaml.
# PARAMS is the parameters folder: params (the report) or params/smoke (a fast run for tests).
PARAMS ?= params
NOTEBOOKS := $(sort $(wildcard notebooks/task*.ipynb))
TASKS := $(basename $(notdir $(NOTEBOOKS)))
EXECUTED := $(TASKS:%=build/notebooks/%.ipynb)
SWEEP_GRIDS := $(sort $(wildcard $(PARAMS)/sweeps/*.yaml))
SWEEPS := $(SWEEP_GRIDS:$(PARAMS)/sweeps/%.yaml=build/sweeps/%.json)
REPORT := report/build/report.pdf

# What each notebook and sweep reads (helper modules, data files, sweep results) is derived from
# their code by helpers/pipeline/deps.py: HELPERS_<task>, DATA_<task>, SWEEP_<task>, SWEEP_*_<sweep>.
DEPS := build/deps-$(subst /,-,$(PARAMS)).mk
ifneq ($(filter _report _notebooks _sweep build/% report/%,$(MAKECMDGOALS)),)
include $(DEPS)
endif
$(DEPS): $(NOTEBOOKS) $(SWEEP_GRIDS) $(HELPER_FILES) | $(SETUP)
	@"$(PYTHON)" -m helpers.pipeline.deps --params $(PARAMS) --out $@ $(NOTEBOOKS) $(SWEEP_GRIDS)

# Stamps holding the Keras backend and the parameters folder, rewritten only when they change:
# the tasks that use Keras rerun when the backend changes, every task and sweep when PARAMS does.
BACKEND_STAMP := build/env/keras-backend
PARAMS_STAMP := build/env/params
$(BACKEND_STAMP): FORCE
	@mkdir -p $(@D)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(KERAS_BACKEND)" ]; then echo "$(KERAS_BACKEND)" > $@; fi
$(PARAMS_STAMP): FORCE
	@mkdir -p $(@D)
	@if [ "$$(cat $@ 2>/dev/null)" != "$(PARAMS)" ]; then echo "$(PARAMS)" > $@; fi

DATA_FILES := pca_dataset.txt data_DMAP_PCA_vadere.txt FireEvac_train_set.npy \
              FireEvac_test_set.npy face.dat mnist.npz
DATA_STAMPS := $(DATA_FILES:%=build/data/%.sha256)

.PHONY: help setup check-venv system-deps data datafold notebooks sweep report _notebooks _sweep _report test bench \
        bench-pca bench-dmaps bench-vae lab check-reproducible clean distclean FORCE

help:
	@echo "make report              run the notebooks that changed and build $(REPORT)"
	@echo "                         (PARAMS=params/smoke: a fast build from the smoke parameters)"
	@echo "                         (JOBS=1: one notebook at a time; MLCMS_SCHEDULER=ADDRESS: trainings and sweep"
	@echo "                         points on that Dask cluster; times of each step: build/timings.json)"
	@echo "make test                lint, check the packages' dependencies and run the tests"
	@echo "make notebooks           only run the notebooks (build/notebooks/*.ipynb, figures/, results/)"
	@echo "make sweep               run the Task 4 hyper-parameter sweep (build/sweeps/; also part of make report)"
	@echo "make lab                 open the notebooks in JupyterLab (LAB_ARGS=\"--port 9999 --no-browser\": its options)"
	@echo "make data                find or download every data set and verify its checksum"
	@echo "make setup               create the virtual environment (.venv, or the active one) and install"
	@echo "make check-venv          setup, and refuse an environment whose helpers are another checkout's"
	@echo "make system-deps         install the LaTeX toolchain (as root on Debian/Ubuntu; else name the packages)"
	@echo "make datafold            create .venv-datafold (datafold, for Task 2's comparison; part of make report)"
	@echo "make bench               run the benchmarks: bench-pca, bench-dmaps, bench-vae (bench/README.md)"
	@echo "make check-reproducible  build twice from scratch in scratch copies and compare figures and PDF byte by byte"
	@echo "make clean               remove generated files but the model cache (distclean: also .venv and data/)"
	@echo "papermill --help-notebook notebooks/<task>.ipynb lists a notebook's parameters with their defaults"

# ---------------------------------------------------------------- set-up
setup: $(SETUP)

# --no-compile: Python compiles a module when it is first imported; compiling every file of every
# package at installation took half of the installation's time.
# Two makes started at once in a new checkout would both install into one environment (and the second
# fail in pip): the set-up holds a lock of its own (flock, where the system has it), and the second
# waits, says so, and finds the work done.
$(SETUP): requirements.txt requirements-no-deps.txt pyproject.toml
	@mkdir -p build; exec 9> build/.setup.lock; \
	if command -v flock > /dev/null 2>&1 && ! flock -n 9; then \
	    echo "==> another make is setting up $(VENV); waiting for it to finish" >&2; flock 9; fi; \
	if [ "$@" -nt requirements.txt ] && [ "$@" -nt requirements-no-deps.txt ] && [ "$@" -nt pyproject.toml ]; then \
	    exit 0; fi; \
	if [ ! -x "$(PYTHON)" ]; then echo "==> creating virtual environment $(VENV)"; $(BOOTSTRAP_PYTHON) -m venv "$(VENV)"; fi; \
	$(subst "$(PYTHON)",env -u PYTHONPATH "$(PYTHON)",$(HELPERS_FROM)); if [ -n "$$found" ] && [ -d "$$found/helpers" ] && [ "$$found" != "$$(cd "$(CURDIR)" && pwd -P)" ]; then \
	    $(OTHER_CHECKOUT); fi; \
	echo "==> installing Python requirements into $(VENV)"; \
	$(TIMED); "$(PYTHON)" -m pip install --upgrade pip > "$(VENV)/pip.log" 2>&1 \
	    && "$(PYTHON)" -m pip install --no-compile -r requirements.txt -e . >> "$(VENV)/pip.log" 2>&1 \
	    && "$(PYTHON)" -m pip install --no-compile --no-deps -r requirements-no-deps.txt >> "$(VENV)/pip.log" 2>&1 \
	    || { tail -n 40 "$(VENV)/pip.log"; echo "pip failed; full log: $(VENV)/pip.log" >&2; exit 1; }; \
	$(RECORD) setup "Python packages (pip)" --since $$start; \
	! git rev-parse --git-dir > /dev/null 2>&1 || { git config filter.nbstripout.clean "$(NBSTRIPOUT)" \
	    && git config filter.nbstripout.smudge cat; }; \
	touch $@

# Git stores notebooks as nbstripout leaves them (.gitattributes): what JupyterLab adds when it saves a
# notebook (outputs, execution counts, language_info) never shows as a change.
NBSTRIPOUT = '$(PYTHON)' -m nbstripout --keep-id --extra-keys metadata.language_info

# The notebooks' kernels import helpers from the environment: refuse one whose helpers are another
# checkout's (an activated virtualenv of another clone), which would run that checkout's code, and
# never reinstall such an environment for this checkout.
HELPERS_FROM = found=$$(cd / && "$(PYTHON)" -c 'import helpers, os; print(os.path.dirname(os.path.dirname(os.path.realpath(helpers.__file__))))' 2>/dev/null || true)
OTHER_CHECKOUT = { echo "error: the virtual environment $(VENV) imports helpers from $$found, not from this checkout ($(CURDIR))." >&2; \
    echo "       Deactivate it (or unset VIRTUAL_ENV) to use this checkout's .venv, or install this checkout into it:" >&2; \
    echo "       \"$(PYTHON)\" -m pip install -e \"$(CURDIR)\"" >&2; exit 1; }
check-venv: $(SETUP)
	@$(HELPERS_FROM); if [ "$$found" != "$$(cd "$(CURDIR)" && pwd -P)" ]; then found=$${found:-nowhere (helpers is not installed)}; $(OTHER_CHECKOUT); fi

system-deps:
	@scripts/system-deps.sh

# Stamps are rewritten only when a file's checksum changes, so tasks rerun only then.
data: $(DATA_STAMPS)
$(DATA_STAMPS) &: FORCE | $(SETUP)
	@"$(PYTHON)" -m helpers.core.data stamp build/data

# ---------------------------------------------------------------- datafold
# datafold pins older numpy and scikit-learn than requirements.txt, so it lives in a virtual environment
# of its own: Task 2 compares our diffusion maps with it, bench-dmaps times both. make never fails for
# want of it: the stamp build/env/datafold says "available <pins>" or "unavailable", Task 2 reruns when
# it changes and, without datafold, says so in one sentence. A failed installation (no network) is
# retried by `make datafold`, or when requirements-datafold.txt changes, not by every build.
DATAFOLD_VENV ?= $(CURDIR)/.venv-datafold
DATAFOLD_STAMP := build/env/datafold
export MLCMS_DATAFOLD_PYTHON := $(DATAFOLD_VENV)/bin/python

datafold:
	@rm -f "$(DATAFOLD_VENV)/.failed"
	@$(MAKE) --no-print-directory "$(DATAFOLD_VENV)/.installed"

$(DATAFOLD_VENV)/.installed: requirements-datafold.txt
	@echo "==> creating $(DATAFOLD_VENV) with datafold (Task 2 compares our diffusion maps with it)"
	@rm -rf "$(DATAFOLD_VENV)" && $(BOOTSTRAP_PYTHON) -m venv "$(DATAFOLD_VENV)"
	@$(TIMED); "$(DATAFOLD_VENV)/bin/python" -m pip install --quiet --no-compile --no-deps -r requirements-datafold.txt \
	    > "$(DATAFOLD_VENV)/pip.log" 2>&1 \
	    || { tail -n 20 "$(DATAFOLD_VENV)/pip.log"; mv "$(DATAFOLD_VENV)/pip.log" "$(DATAFOLD_VENV).log"; \
	         rm -rf "$(DATAFOLD_VENV)"; mkdir -p "$(DATAFOLD_VENV)"; mv "$(DATAFOLD_VENV).log" "$(DATAFOLD_VENV)/pip.log"; \
	         touch "$(DATAFOLD_VENV)/.failed"; exit 1; }; \
	    [ ! -x "$(PYTHON)" ] || $(RECORD) setup "datafold's environment (pip)" --since $$start
	@touch $@

$(DATAFOLD_STAMP): FORCE
	@mkdir -p $(@D)
	@if [ ! -f "$(DATAFOLD_VENV)/.installed" ] && { [ ! -f "$(DATAFOLD_VENV)/.failed" ] \
	        || [ requirements-datafold.txt -nt "$(DATAFOLD_VENV)/.failed" ]; }; then \
	    $(MAKE) --no-print-directory "$(DATAFOLD_VENV)/.installed" \
	        || echo "datafold could not be installed (log: $(DATAFOLD_VENV)/pip.log); the report leaves its comparison out, \`make datafold\` tries again" >&2; fi
	@state=$$(if [ -f "$(DATAFOLD_VENV)/.installed" ]; then echo "available $$(sha256sum < requirements-datafold.txt | cut -c1-16)"; \
	          else echo unavailable; fi); \
	if [ "$$(cat $@ 2>/dev/null)" != "$$state" ]; then echo "$$state" > $@; fi

# ---------------------------------------------------------------- notebooks and report
# report, notebooks and sweep hold a lock on build/.build.lock: a second build of this checkout
# waits until the first is done instead of writing the same files.
# (`+`: the inner make runs as a recursive make, so that -j reaches it through the jobserver.)
LOCKED = +@mkdir -p build && "$(PYTHON)" -m helpers.pipeline.lock build/.build.lock -- $(MAKE) --no-print-directory -j$(JOBS) -Oline
notebooks sweep report: check-venv
	@"$(PYTHON)" -m helpers.pipeline.settings
	$(LOCKED) _$@
	@"$(PYTHON)" -m helpers.core.timings summary "$(MLCMS_TIMINGS)" --out build/timings.json --started $(MLCMS_BUILD_STARTED)

_notebooks: $(EXECUTED)

# In a whole build the notebooks that train Keras models wait for the sweeps: the sweeps' small
# networks wait on their own threads between thousands of short steps, and slow down far more
# than other work when the cores are busy training (bench/README.md). The other notebooks run
# beside the sweeps.
ifneq ($(filter _report _notebooks,$(MAKECMDGOALS)),)
$(foreach task,$(TASKS),$(if $(filter $(BACKEND_STAMP),$(ENV_$(task))),$(eval build/notebooks/$(task).ipynb: | $(SWEEPS))))
endif

# helpers/pipeline/run_notebook.py checks the parameter names, runs papermill into a folder of its own
# and publishes figures/<task>/, results/ and the executed notebook together, only on success.
.SECONDEXPANSION:
build/notebooks/%.ipynb: notebooks/%.ipynb $(PARAMS)/%.yaml $(PARAMS_STAMP) $$(HELPERS_$$*) $$(SWEEP_$$*) $$(ENV_$$*) \
                         $$(addprefix build/data/,$$(addsuffix .sha256,$$(DATA_$$*))) | $(SETUP)
	@echo "==> running $< (parameters: $(PARAMS)/$*.yaml, Keras backend: $(KERAS_BACKEND))"
	@"$(PYTHON)" -m helpers.pipeline.run_notebook "$<" "$@" -f "$(PARAMS)/$*.yaml"

# A sweep runs its notebook once per configuration with papermill (trained models are cached
# in build/cache, shared with the task's notebook) and writes the table to build/sweeps/<name>.json.
_sweep: $(SWEEPS)

build/sweeps/%.json: $(PARAMS)/sweeps/%.yaml $(PARAMS_STAMP) $$(SWEEP_NOTEBOOK_$$*) $$(SWEEP_HELPERS_$$*) $$(SWEEP_ENV_$$*) \
                     $$(addprefix build/data/,$$(addsuffix .sha256,$$(SWEEP_DATA_$$*))) | $(SETUP)
	@echo "==> sweep $< (one papermill run per configuration)"
	@"$(PYTHON)" -m helpers.pipeline.sweep "$<" "build/sweeps/$*" --set cache_dir=build/cache

_report: $(REPORT)

# helpers/pipeline/pdf.py compiles in a scratch folder and replaces the PDF only on success.
$(REPORT): $(EXECUTED) report/report.tex.j2 report/metadata.yaml $(wildcard report/templates/section/*) \
           $(wildcard helpers/pipeline/*.py helpers/notebook/*.py helpers/core/*.py) \
           | system-deps
	@echo "==> building $@"
	@$(TIMED); "$(PYTHON)" -m helpers.pipeline.pdf --notebooks build/notebooks --out $@ --params $(PARAMS) && $(RECORD) report "PDF (nbconvert, XeLaTeX)" --since $$start

# ---------------------------------------------------------------- checks
test: check-venv
	@scripts/system-deps.sh --try
	@$(MAKE) --no-print-directory data $(DATAFOLD_STAMP)
	@echo "==> ruff (helpers, tests, bench and the notebooks' code cells)"
	@"$(PYTHON)" -m ruff check helpers tests bench notebooks
	@echo "==> import-linter (the packages' dependencies run one way: pyproject.toml)"
	@"$(PYTHON)" -m importlinter.cli lint --no-cache
	@echo "==> pytest"
	@"$(PYTHON)" -m pytest $(PYTEST_ARGS)

bench: bench-pca bench-dmaps bench-vae

bench-pca: $(SETUP) data
	@"$(PYTHON)" bench/bench_pca.py

# datafold pins older numpy and scikit-learn, so it lives in a virtual environment of its own.
bench-dmaps: $(SETUP) data datafold
	@"$(PYTHON)" bench/bench_dmaps.py --datafold-python "$(MLCMS_DATAFOLD_PYTHON)" $(BENCH_ARGS)

bench-vae: $(SETUP) data
	@"$(PYTHON)" bench/bench_vae.py $(BENCH_ARGS)

# Two builds from scratch in a scratch copy of the checkout (tracked and untracked files, the data
# and the model cache linked in), compared byte by byte; the checkout's own report is left alone.
check-reproducible: check-venv
	@git rev-parse --git-dir > /dev/null 2>&1 \
	    || { echo "check-reproducible copies the files git knows: run it in a git checkout." >&2; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for run in 1 2; do \
	    copy="$$tmp/copy$$run"; mkdir -p "$$copy/build"; \
	    git ls-files -z --cached --others --exclude-standard | xargs -0 cp -p --parents -t "$$copy"; \
	    mkdir -p build/cache data; ln -s "$(CURDIR)/build/cache" "$$copy/build/cache"; \
	    for file in data/*; do [ -e "$$copy/$$file" ] || ln -s "$(CURDIR)/$$file" "$$copy/$$file"; done; \
	    [ ! -d "$(DATAFOLD_VENV)" ] || ln -s "$(DATAFOLD_VENV)" "$$copy/.venv-datafold"; \
	    echo "==> build $$run of 2 in $$copy"; \
	    data_dir="$${MLCMS_DATA_DIR:-}"; case "$$data_dir" in ""|/*) ;; *) data_dir="$(CURDIR)/$$data_dir";; esac; \
	    PYTHONPATH="$$copy" VIRTUAL_ENV="$(VENV)" MLCMS_DATA_DIR="$$data_dir" \
	        $(MAKE) --no-print-directory -C "$$copy" report > "$$tmp/build$$run.log" 2>&1 \
	        || { tail -n 30 "$$tmp/build$$run.log"; exit 1; }; \
	    (cd "$$copy" && find figures $(REPORT) -type f \( -name '*.pdf' -o -name '*.png' \) -print0 | sort -z \
	        | xargs -0 sha256sum) > "$$tmp/run$$run.txt"; \
	done; \
	if diff -u "$$tmp/run1.txt" "$$tmp/run2.txt"; then \
	    echo "reproducible: $$(( $$(wc -l < "$$tmp/run1.txt") - 1 )) figure files and the PDF are byte-identical across two builds"; \
	else echo "NOT reproducible: the files above differ between two builds" >&2; exit 1; fi

# JupyterLab serves the repository, so that runs' outputs (build/interactive/) are in its file browser,
# and opens notebooks/. Its kernels talk over Unix sockets, as the pipeline's do: no ports, and none of
# ipykernel's warnings that TCP is unencrypted. After a save, a notebook whose committed form did not
# change shows as unchanged in git status (helpers/pipeline/lab.py). As root (containers) it needs
# --allow-root; LAB_ARGS passes further options.
LAB_ARGS ?=
lab: check-venv
	@"$(PYTHON)" -m jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
	    --KernelManager.transport=ipc --ContentsManager.post_save_hook=helpers.pipeline.lab.post_save \
	    $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# ---------------------------------------------------------------- cleaning
# clean keeps build/cache (trained models, which take minutes to recompute) and figures/README.md;
# distclean removes the cache, the virtual environment and the data files that `make data`
# downloaded (listed in data/.downloaded); files you put into data/ yourself stay.
# Both take the build lock: while a build of this checkout runs they wait for it (saying so) instead of
# deleting its files under it.
UNDER_LOCK = $(if $(wildcard $(PYTHON)),"$(PYTHON)" -m helpers.pipeline.lock build/.build.lock --,)
clean:
	$(UNDER_LOCK) rm -rf build/notebooks build/runs build/data build/env build/deps-*.mk build/timings build/timings.json \
	    $(wildcard figures/*/) results report/build .pytest_cache .ruff_cache

distclean: clean
	@if [ -f data/.downloaded ]; then \
	    while IFS= read -r name; do \
	        case "$$name" in */*|.*|"") ;; *) rm -f "data/$$name" && echo "removed downloaded data/$$name";; esac; \
	    done < data/.downloaded; rm -f data/.downloaded; fi
	$(UNDER_LOCK) rm -rf build "$(CURDIR)/.venv" "$(CURDIR)/.venv-datafold"

FORCE:
