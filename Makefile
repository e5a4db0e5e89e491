# userpanel: `make run` to try the panel, `make test` to test it.
#
# Without DATABASE_URL (run) or TEST_DATABASE_URL (test), both use the
# project's own PostgreSQL cluster in .data/pg (scripts/localpg.sh), never a
# server that happens to be running on the machine.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

GO ?= go
BIN := userpanel
# How long `make test` fuzzes each target.
FUZZTIME ?= 10s
VENDOR := static/vendor/htmx.min.js static/vendor/pico.min.css db/breached/passwords.json

.PHONY: help run test bench check generate assets build chromium db db-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

run: build ## build, start the local database, ensure an admin, seed demo users, serve on 127.0.0.1:8080
	@local_db=false
	if [ -z "$${DATABASE_URL:-}" ]; then DATABASE_URL=$$(scripts/localpg.sh userpanel); local_db=true; fi
	export DATABASE_URL
	# One session secret for this checkout, so that sign-ins survive a
	# restart; serve reads it from the file, so it is in no command line.
	if [ -z "$${SESSION_SECRET:-}" ] && [ -z "$${SESSION_SECRET_FILE:-}" ]; then
		mkdir -p .data
		if [ ! -s .data/session_secret ]; then
			(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .data/session_secret)
		fi
		export SESSION_SECRET_FILE=.data/session_secret
	fi
	./$(BIN) migrate
	./$(BIN) ensure-admin
	# Demo users (staff among them, password "demo-password") only ever go
	# into the project's own cluster, never into a database you pointed at
	# (--force: the cluster holds the admin just ensured, who is no demo user).
	if [ "$$local_db" = true ]; then ./$(BIN) seed --users 2000 --if-empty --force; fi
	exec ./$(BIN) serve

test: assets chromium ## run every test against a real PostgreSQL and a real browser
	@if [ -z "$${TEST_DATABASE_URL:-}" ]; then TEST_DATABASE_URL=$$(scripts/localpg.sh postgres); fi
	export TEST_DATABASE_URL
	$(GO) test -race -count=1 ./...
	# A short fuzzing run of each target on top of its committed corpus
	# (testdata/fuzz); `go test -fuzz FuzzX -fuzztime 10m ./pkg/` digs deeper.
	$(GO) test -run '^$$' -fuzz '^FuzzListUsers$$' -fuzztime $(FUZZTIME) ./db/
	$(GO) test -run '^$$' -fuzz '^FuzzListParams$$' -fuzztime $(FUZZTIME) ./handlers/

bench: build ## the HTTP benchmark at 1,000,000 users (seeded once into the local cluster's bench database; FRESH=1 seeds again); writes docs/BENCHMARKS.md
	@if [ -z "$${BENCH_DATABASE_URL:-}" ]; then BENCH_DATABASE_URL=$$(scripts/localpg.sh bench); fi
	if ! command -v wrk >/dev/null; then
		if [ "$$(id -u)" = 0 ]; then
			echo "Installing wrk for the benchmark: apt-get install -y wrk"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; }
		else
			echo "The benchmark needs wrk: sudo apt-get install wrk" >&2; exit 1
		fi
	fi
	$(GO) run ./internal/bench -database-url "$$BENCH_DATABASE_URL" -bin ./$(BIN) $${FRESH:+-fresh}

check: ## gofmt, go vet, and templ's generated files up to date
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool templ generate
	stale=$$(git status --porcelain -- '*_templ.go')
	if [ -n "$$stale" ]; then
		echo "templ's generated files differ from their .templ sources; run make generate and commit them:"
		echo "$$stale"
		exit 1
	fi

generate: ## regenerate the *_templ.go files from the .templ views
	$(GO) tool templ generate

build: assets ## build ./userpanel
	$(GO) build -o $(BIN) .

assets: $(VENDOR) ## copy htmx and Pico into static/vendor, the breached-password list into db/breached

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

static/vendor/htmx.min.js: node_modules/.installed
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $@

static/vendor/pico.min.css: node_modules/.installed
	mkdir -p static/vendor
	cp node_modules/@picocss/pico/css/pico.min.css $@

# The commonly breached passwords that db.CheckPassword refuses (MIT; see
# db/breached/README.md), embedded by go build.
db/breached/passwords.json: node_modules/.installed
	cp node_modules/@zxcvbn-ts/language-common/src/passwords.json $@

# The browser tests drive Chromium (chromedp): /usr/bin/chromium or $CHROME_PATH.
chromium:
	@if [ -n "$${CHROME_PATH:-}" ] || [ -x /usr/bin/chromium ]; then exit 0; fi
	if [ "$$(id -u)" = 0 ]; then
		echo "Installing Chromium for the browser tests: apt-get install -y chromium"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q chromium
	else
		echo "The browser tests need Chromium: sudo apt-get install chromium, or set CHROME_PATH." >&2
	fi

db: ## start the local PostgreSQL and print its DATABASE_URL
	@scripts/localpg.sh userpanel

db-stop: ## stop the local PostgreSQL (its data stays in .data/pg)
	@scripts/localpg.sh stop

clean: ## remove build outputs (not .data: that is your database)
	rm -rf $(BIN) static/vendor node_modules db/breached/passwords.json
