# gavel — the two commands of README's quick start, and the longer jobs.
export LANG ?= C.UTF-8
SWIFT ?= swift
GAVEL := .build/debug/gavel

.PHONY: run test build serve bench fuzz soak screenshots clean

## make run: build, then start the console with its embedded receiver (127.0.0.1:8787, ./gavel.db).
run: build
	@echo "in another terminal: $(GAVEL) demo   (posts sample signals to http://127.0.0.1:8787)"
	@$(GAVEL) console $(ARGS)

## make test: the whole test suite (unit, loopback receiver, dispatch sink, console under tmux).
test:
	@scripts/ensure-deps.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

build:
	@scripts/ensure-deps.sh build
	$(SWIFT) build

serve: build
	@$(GAVEL) serve $(ARGS)

## make bench: ingest benchmark (gavel vs nginx-204, webhook, Python+SQLite; release build, ~1 min,
## installs wrk/nginx-light/webhook when missing) and auto-remediation latency. See BENCHMARKS.md.
bench:
	bench/run.sh $(ARGS)

## make screenshots: screenshots/*.png from a real run (console in tmux, demo signals, one approval);
## installs tmux, python3-pil and fonts-dejavu-core when missing. See scripts/screenshots.sh.
screenshots:
	scripts/screenshots.sh $(ARGS)

clean:
	rm -rf .build
