# followup: `make run` starts the product, `make test` proves it. Both set up .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# `make run` installs the product only; `make test` adds the test extras (browser driver,
# second CalDAV server, real clients, linters), which a user running the product never needs.
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test

.PHONY: run test lint bench clean translations messages screenshots

# pip's output (hundreds of lines of warnings on some machines, even with --quiet) goes to a
# log, printed only if the install fails: what `make run` prints next, the first user's
# password among it, must not scroll away.
INSTALL_LOG := $(VENV)/install.log

define install
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing followup$(2) into $(VENV)/ (log: $(INSTALL_LOG))"
	@if ! { $(BIN)/python -m pip install --quiet --upgrade pip && \
	        $(BIN)/python -m pip install --quiet -e '$(1)'; } > $(INSTALL_LOG) 2>&1; then \
	    cat $(INSTALL_LOG); echo "make: the install failed: see above, or $(INSTALL_LOG)"; \
	    exit 1; fi
endef

$(INSTALLED): pyproject.toml
	$(call install,.,)
	@touch $(INSTALLED)

$(TEST_INSTALLED): pyproject.toml
	$(call install,.[test], and its test tools)
	@touch $(INSTALLED) $(TEST_INSTALLED)

# The pages' French: .po files are the source, .mo files are built (not committed).
PO := $(wildcard web/translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

%.mo: %.po $(INSTALLED)
	@$(BIN)/pybabel --quiet compile --use-fuzzy -i $< -o $@

translations: $(MO)

# After changing texts: refresh the template and the catalogues, then translate what is empty.
messages: $(INSTALLED)
	$(BIN)/pybabel extract -F web/babel.cfg -k lazy_gettext -o web/translations/messages.pot \
		--no-location --omit-header --sort-output .
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations \
		--width 100 --ignore-obsolete

# More serve options through ARGS, e.g. make run ARGS="--port 5300 --base-url https://crm.example.org"
run: $(INSTALLED) translations
	$(BIN)/followup serve --data var --radicale-config config/radicale.ini $(ARGS)

# Rewrites docs/screenshots/*.png from the browser test (needs chromium).
screenshots: $(TEST_INSTALLED) translations
	FOLLOWUP_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser

# By hand, not in CI: results go to docs/PERFORMANCE.md with the machine and the date.
bench: $(INSTALLED) translations
	$(BIN)/python bench/put_at_scale.py
	$(BIN)/python bench/whole_calendar_put.py
	$(BIN)/python bench/load_page.py --overdue-path /overdue

lint: $(TEST_INSTALLED)
	$(BIN)/ruff check .

test: lint translations
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
