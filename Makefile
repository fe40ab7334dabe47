# modelverify build targets. `make test` is what CI runs.
SHELL   := /bin/bash
GO       ?= go
PKGS     ?= ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X github.com/modelverify/modelverify/internal/version.Version=$(VERSION) \
            -X github.com/modelverify/modelverify/internal/version.Commit=$(COMMIT)
FUZZTIME ?= 30s
SHELL    := bash

.PHONY: build test test-image bench fuzz lint demo tools

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/modelverify ./cmd/modelverify

# Unit and integration tests. Integration tests start their own servers
# (Debian's docker-registry, etcd and a kube-apiserver built by `make tools`;
# local-kms built by scripts/local-kms.sh);
# with MODELVERIFY_INTEGRATION=require a missing server fails instead of skipping.
# The output is the failing tests' logs, a line per package and, at the end,
# every skipped test with its reason (internal/testsummary).
# The container image test cross-compiles and is left to `make test-image`.
# PKCS#11 signing needs cgo and the pkcs11 build tag: its tests run again with
# them, against a SoftHSM2 token (Debian softhsm2).
test:
	$(GO) vet $(PKGS)
	$(GO) build -o bin/testsummary ./internal/testsummary
	set -o pipefail; { $(GO) test -count=1 -timeout 20m -json $(PKGS) && \
	  CGO_ENABLED=1 $(GO) test -count=1 -timeout 5m -json -tags pkcs11 -run 'SoftHSM|PKCS11Token' ./pkg/sign/pkcs11 ./pkg/admission/oci ./cmd/modelverify; } | bin/testsummary

# Builds the container image for every platform (cross-compiling) and its
# PKCS#11 variant, and checks them as `make image` and `make image-pkcs11`
# users get them; .ci/run runs it after `make test`.
test-image:
	MODELVERIFY_IMAGE_TEST=1 $(GO) test -count=1 -timeout 30m -run '^TestMakeImage' ./tools/image

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

# Runs every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# gofmt, go vet and staticcheck's default checks (built once and cached).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	./scripts/staticcheck.sh

# The README's first command: scan a model, then sign it, push it to a local
# OCI layout and verify it. No server, no account.
demo: build
	./scripts/demo.sh

# The command reference in docs/cli, generated from the command tree (a test
# fails when it is out of date).
.PHONY: docs
docs:
	$(GO) run ./cmd/modelverify gendocs docs/cli

# The container image of modelverify itself, assembled without a container
# engine: static binaries cross-compiled for IMAGE_PLATFORMS, a non-root user,
# the build machine's CA certificates and OCI labels, written as an OCI image
# index to the layout IMAGE_LAYOUT (tag VERSION). IMAGE_PUSH=oci://HOST/REPO:TAG
# also pushes it (IMAGE_PUSH_FLAGS=--plain-http for a registry without TLS);
# IMAGE_SIGN_KEY=FILE signs the index (a Sigstore bundle stored as its referrer,
# pushed with it; check with `go run ./tools/image/mkimage verify`) and the
# whole layout folder with `modelverify sign --key`.
# `make image-pin` then points deploy/ at the image by digest.
IMAGE_REPO       ?= ghcr.io/modelverify/modelverify
IMAGE_PLATFORMS  ?= linux/amd64 linux/arm64
IMAGE_LAYOUT     ?= bin/image
IMAGE_WORK       ?= bin
IMAGE_PUSH       ?=
IMAGE_PUSH_FLAGS ?=
IMAGE_SIGN_KEY   ?=
IMAGE_SOURCE     ?= https://github.com/modelverify/modelverify
REVISION         ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

.PHONY: image image-pin
image:
	@set -e; for p in $(IMAGE_PLATFORMS); do \
	  echo "build $$p"; \
	  CGO_ENABLED=0 GOOS=$${p%%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $(IMAGE_WORK)/platforms/$$(echo $$p | tr / _)/modelverify ./cmd/modelverify; \
	done
	rm -f $(IMAGE_LAYOUT)/model.sig
	$(GO) run ./tools/image/mkimage build --layout $(IMAGE_LAYOUT) --tag $(VERSION) \
	  --version $(VERSION) --revision $(REVISION) --source $(IMAGE_SOURCE) \
	  $(foreach p,$(IMAGE_PLATFORMS),--binary $(p)=$(IMAGE_WORK)/platforms/$(subst /,_,$(p))/modelverify) \
	  $(if $(IMAGE_SIGN_KEY),--sign-key $(IMAGE_SIGN_KEY) --repo $(IMAGE_REPO)) \
	  $(if $(IMAGE_PUSH),--push $(IMAGE_PUSH) $(IMAGE_PUSH_FLAGS)) --digest-file $(IMAGE_WORK)/image.digest
	$(if $(IMAGE_SIGN_KEY),$(GO) run ./cmd/modelverify sign --no-progress --key $(IMAGE_SIGN_KEY) $(IMAGE_LAYOUT))

# The PKCS#11 variant of the image (linux/amd64): modelverify built with cgo
# and -tags pkcs11, with the shared libraries it loads (ldd) copied from the
# build machine, as IMAGE_PKCS11_LAYOUT (tag VERSION-pkcs11). The token's
# own PKCS#11 module is mounted into the container at run time.
IMAGE_PKCS11_LAYOUT ?= bin/image-pkcs11
.PHONY: image-pkcs11
image-pkcs11:
	CGO_ENABLED=1 $(GO) build -tags pkcs11 -trimpath -ldflags '$(LDFLAGS)' \
	  -o $(IMAGE_WORK)/platforms/pkcs11_linux_amd64/modelverify ./cmd/modelverify
	set -e; libs=$$(ldd $(IMAGE_WORK)/platforms/pkcs11_linux_amd64/modelverify | \
	  awk '$$2 == "=>" && $$3 ~ /^\// {print $$3} $$1 ~ /^\// {print $$1}' | sort -u); \
	test -n "$$libs"; \
	$(GO) run ./tools/image/mkimage build --layout $(IMAGE_PKCS11_LAYOUT) --tag $(VERSION)-pkcs11 \
	  --version $(VERSION)-pkcs11 --revision $(REVISION) --source $(IMAGE_SOURCE) \
	  --binary linux/amd64=$(IMAGE_WORK)/platforms/pkcs11_linux_amd64/modelverify \
	  $$(for l in $$libs; do printf -- '--lib linux/amd64=%s ' "$$l"; done) \
	  --digest-file $(IMAGE_WORK)/image-pkcs11.digest

image-pin:
	$(GO) run ./tools/image/mkimage pin --digest-file $(IMAGE_WORK)/image.digest --repo $(IMAGE_REPO) deploy/kubernetes/deployment.yaml integrations/tekton/modelverify-tasks.yaml
