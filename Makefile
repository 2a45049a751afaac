# Oncofed — the two commands a newcomer needs: `make run` and `make test`.
# Both install what a fresh Debian/Ubuntu machine lacks (a C compiler and the OpenGL/X11
# headers Fyne needs) before building.

GO        ?= go
BIN       := bin
# Packages Fyne's GLFW driver needs to build on Debian/Ubuntu (xorg-dev is far more than needed).
SYSDEPS   := gcc libc6-dev pkgconf libgl-dev libx11-dev libxcursor-dev libxrandr-dev \
             libxinerama-dev libxi-dev libxxf86vm-dev
# What the tests need besides: a D-Bus session bus and GNOME Keyring, which oskeyring's tests
# start privately to check the desktop app's credentials against a real Secret Service; and
# PostgreSQL, whose server binaries (initdb, pg_ctl) the OMOP tests run a throwaway cluster
# with (internal/pgtest).
TESTDEPS  := dbus gnome-keyring postgresql
# Packages that must never depend on Fyne, NATS or an SQL driver (see DESIGN.md; dp is the
# differential-privacy mathematics the nodes release with; report turns a Result into what a
# person sees, for the desktop app and the CLI alike).
PURE_PKGS := ./analysis/... ./protocol/... ./app/... ./dp/... ./report/...
FORBIDDEN := ^(fyne\.io/|github\.com/nats-io/|modernc\.org/sqlite|database/sql$$|github\.com/jackc/|github\.com/go-gl/)

.PHONY: all run build test deps test-deps check-display vet fmt-check layering unit bench fuzz clean

all: build

## deps: install the missing system packages (Debian/Ubuntu only; elsewhere see README).
deps:
	@./scripts/install-deps.sh $(SYSDEPS)

## test-deps: the packages the tests need on top of deps.
test-deps:
	@./scripts/install-deps.sh $(SYSDEPS) $(TESTDEPS)

build: deps
	$(GO) build -o $(BIN)/oncofed .
	$(GO) build -o $(BIN)/oncofed-node ./cmd/oncofed-node
	$(GO) build -o $(BIN)/oncofed-cli ./cmd/oncofed-cli

## run: build and start the desktop app on the embedded demo network.
run: check-display build
	./$(BIN)/oncofed

check-display:
	@./scripts/check-display.sh

## test: everything CI checks.
test: test-deps vet fmt-check layering unit

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi; echo "gofmt: ok"

layering:
	@bad=$$($(GO) list -deps $(PURE_PKGS) | grep -E '$(FORBIDDEN)' | sort -u); \
	if [ -n "$$bad" ]; then echo "layering: analysis, protocol, app, dp and report must not depend on:"; echo "$$bad"; exit 1; fi; \
	echo "layering: ok"

## unit: every package under the race detector; node alone took 10½ minutes on 2 loaded cores
## (session 6), so a package gets 40 minutes before the run is called hung.
unit:
	$(GO) test -race -count=1 -timeout 40m ./...

## bench: Go benchmarks plus the side-by-side harness (federated vs R, 100 sites, node floor, app
## figures); writes bench/RESULTS.md. BENCH_SIZES=100k,1M,10M adds the 10M run (see scripts/bench.sh).
bench: test-deps
	bash ./scripts/bench.sh

## fuzz: run every fuzzer of the tree (func Fuzz* in *_test.go) for FUZZTIME each (default 20s).
## `make test` runs their seed corpora as ordinary tests; CI (.ci/run) then fuzzes each for a
## count of inputs (FUZZTIME=20000x): a duration races Go's fuzzing coordinator on a loaded machine.
FUZZTIME ?= 20s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  for n in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== $$(dirname $$f) $$n ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$n$$" -fuzztime $(FUZZTIME) $$(dirname $$f); \
	  done; \
	done

clean:
	rm -rf $(BIN)
