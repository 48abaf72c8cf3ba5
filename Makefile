# Orchard: `make run` to start, `make test` to check everything. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := run

export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# cargo-leptos builds debug code with this flag; plain cargo must use the same one or it
# would rebuild every crate.
HOST_FLAGS := RUSTFLAGS="--cfg erase_components"
# A clean CI build has no use for incremental state, which would double the size of target/.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif
PW_DRIVER := $(CURDIR)/target/playwright-driver
export PLAYWRIGHT_DRIVER_CACHE_DIR := $(PW_DRIVER)
export PLAYWRIGHT_DRIVER_PATH := $(PW_DRIVER)/playwright-1.64.0-linux-node24.21.0
export CHROMIUM_PATH ?= /usr/bin/chromium

stamp = @echo "[make] $(1) $$(date +%T)"

.PHONY: run build release test lint fmt bench soak bootstrap clean-data fuzz check-deploy

bootstrap:
	@scripts/bootstrap

## Build (debug) and serve Orchard on SQLite at http://127.0.0.1:3000
run: bootstrap build
	mkdir -p data
	target/debug/orchard serve

## Build the server binary and the site (wasm, CSS, assets) into target/
build:
	$(call stamp,build)
	cargo leptos build --split

## Optimized binary and site; each site file also gets a brotli and a gzip copy beside it
## (scripts/precompress), which the server sends to browsers that accept them
release: bootstrap
	cargo leptos build --release --split
	scripts/precompress

lint:
	$(call stamp,lint)
	cargo fmt --all --check
	$(HOST_FLAGS) cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	$(HOST_FLAGS) cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

## Every test: unit, SQLite + Postgres store conformance, HTTP API, workers, browser
test:
	$(call stamp,bootstrap)
	@scripts/bootstrap --test
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory check-deploy
	$(MAKE) --no-print-directory build
	@scripts/run-tests

## Prometheus config, alert rules and their unit tests (promtool from Debian's prometheus)
check-deploy:
	$(call stamp,check-deploy)
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.yml

fmt:
	cargo fmt --all

## Figures: start-up, render time, queue throughput, client size
bench:
	@scripts/bootstrap --test
	@bench/peers/celery/setup
	cargo leptos build --release --split
	scripts/precompress
	scripts/with-postgres --durable scripts/bench

## Kill -9 workers and the server mid-job, on SQLite and a durable Postgres; every result
## checked against the files on disk (outside `make test`: it takes a few minutes)
soak: bootstrap build
	scripts/with-postgres --durable scripts/soak

## Fuzz every target under fuzz/ for FUZZ_SECONDS each (default 60); fails on a crash
fuzz:
	scripts/fuzz

clean-data:
	rm -rf data
