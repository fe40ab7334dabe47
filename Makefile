# modelverify build targets. `make test` is what CI runs.
GO       ?= go
PKGS     ?= ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X github.com/modelverify/modelverify/internal/version.Version=$(VERSION) \
            -X github.com/modelverify/modelverify/internal/version.Commit=$(COMMIT)
FUZZTIME ?= 30s

.PHONY: build test bench fuzz lint demo tools

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/modelverify ./cmd/modelverify

# Unit and integration tests. Integration tests start their own servers
# (Debian's docker-registry, etcd and a kube-apiserver built by `make tools`);
# with MODELVERIFY_INTEGRATION=require a missing server fails instead of skipping.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

# Runs every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

# The README's first command: scan a model, then sign it, push it to a local
# OCI layout and verify it. No server, no account.
demo: build
	./scripts/demo.sh

# The command reference in docs/cli, generated from the command tree (a test
# fails when it is out of date).
.PHONY: docs
docs:
	$(GO) run ./cmd/modelverify gendocs docs/cli
