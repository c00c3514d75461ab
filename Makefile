# gavel — the two commands of README's quick start, and the longer jobs.
export LANG ?= C.UTF-8
SWIFT ?= swift
GAVEL := .build/debug/gavel

.PHONY: run test build serve bench bench-dispatch bench-console fuzz fuzz-ci soak screenshots clean format lint

## make run: build, then start the console with its embedded receiver (127.0.0.1:8787, ./gavel.db).
run: build
	@echo "in another terminal: $(GAVEL) demo   (posts sample signals to http://127.0.0.1:8787)"
	@$(GAVEL) console $(ARGS)

## make test: the whole test suite (unit, loopback receiver, dispatch sink, console under tmux; the store
## contract suite on SQLite and on a throwaway PostgreSQL cluster the tests start themselves).
test:
	@scripts/ensure-deps.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

build:
	@scripts/ensure-deps.sh build
	$(SWIFT) build

serve: build
	@$(GAVEL) serve $(ARGS)

## make bench: ingest benchmark (gavel on SQLite and on PostgreSQL — a throwaway cluster — vs nginx-204,
## webhook, Python+SQLite; release build, ~1 min, installs wrk/nginx-light/webhook when missing) and
## auto-remediation latency. See BENCHMARKS.md.
bench:
	bench/run.sh $(ARGS)

## make bench-dispatch: dispatch at storm scale (issue 15 item 5): 10,000 approved bans to a loopback sink
## answering after 50 ms, sequential (concurrency 1), concurrent (64) and batched (500 per request); wall
## time, requests, bans/s, gavel's CPU per ban, each ban sent exactly once (release build; ARGS go to
## bench/dispatch.sh: --n N --sequential-n N --delay-ms MS --only MODES). See BENCHMARKS.md.
bench-dispatch:
	bench/dispatch.sh $(ARGS)

## make screenshots: screenshots/*.png from a real run (console in tmux, demo signals, one approval);
## installs tmux, python3-pil and fonts-dejavu-core when missing. See scripts/screenshots.sh.
screenshots:
	scripts/screenshots.sh $(ARGS)

## make fuzz: every libFuzzer target for FUZZ_SECONDS each (default 600); a finding fails (Fuzz/README.md).
FUZZ_SECONDS ?= 600
fuzz:
	@scripts/ensure-deps.sh build
	scripts/fuzz.sh $(FUZZ_SECONDS)

## make fuzz-ci: the short budget CI runs (15 s per target, about 3 minutes with the build).
fuzz-ci:
	@scripts/ensure-deps.sh build
	scripts/fuzz.sh 15

## make soak: the kill -9 crash-safety loop for SOAK_CYCLES cycles (default 500; CI runs 40).
SOAK_CYCLES ?= 500
soak:
	@scripts/ensure-deps.sh test
	$(SWIFT) build --build-tests
	GAVEL_SOAK_CYCLES=$(SOAK_CYCLES) $(SWIFT) test --skip-build --filter CrashSafetyTests

## make bench-console: the console at scale (issue 6 item 4): generates a 1M-signal database into
## $(CONSOLE_DB) once (~1 min, 2.3 GiB), builds release (.build-release), then drives the console
## headlessly against it: first frame, key-to-redraw per key class, peak RSS. ARGS go to ConsoleBench
## (--rows R --cols C --j N --rounds N --filter TEXT --cold --dump). See BENCHMARKS.md.
CONSOLE_DB ?= /tmp/gavel-bench-1m.db
bench-console:
	$(SWIFT) build -c release --scratch-path .build-release --product gavel
	$(SWIFT) build -c release --scratch-path .build-release --product ConsoleBench
	@test -s $(CONSOLE_DB) || bench/generate_db.py $(CONSOLE_DB) --gavel .build-release/release/gavel --now-ms 1764403200000
	.build-release/release/ConsoleBench $(CONSOLE_DB) $(ARGS)

## make format: rewrite every Swift file the way .swift-format says; make lint: check only (CI runs it).
FORMAT_PATHS := Sources Tests Fuzz bench Package.swift
format:
	$(SWIFT) format -i -r -p $(FORMAT_PATHS)
lint:
	$(SWIFT) format lint --strict -r -p $(FORMAT_PATHS)

clean:
	rm -rf .build .build-fuzz
