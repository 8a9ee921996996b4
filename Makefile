# flashsale: see README.md. `make run` starts the system on its embedded
# default (in-process queue, no AWS); `make test` runs every test.

GO      ?= go
BIN     ?= bin
ARGS    ?=

.PHONY: all build run test fmt-check vet unit sam-tests clean

all: build

build:
	$(GO) build -o $(BIN)/flashsale ./cmd/flashsale

## run: start API, in-process queue and workers on 127.0.0.1:8080 (ARGS="--workers 5" to pass flags)
run: build
	$(BIN)/flashsale serve $(ARGS)

## lab: run the whole study locally at 100x speed; report in lab-report/ (ARGS="--time-scale 50" to pass flags)
lab: build
	$(BIN)/flashsale lab --out lab-report $(ARGS)

## bench: POST /orders/async against a bare handler, same cores; results in bench/RESULTS.md
bench: build
	$(BIN)/flashsale bench --out bench/RESULTS.md $(ARGS)

.PHONY: lab bench

## test: gofmt check, go vet and every test with the race detector
test: fmt-check vet unit sam-tests

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The tests that run the SAM CLI and Docker (TestSAM*, TestDocs*) run after
# the others, alone: `sam local invoke` waits at most a second for a
# container's output after the response, which a loaded machine can miss.
SAM_TESTS := ^(TestSAM|TestDocs)

unit:
	$(GO) test -race -count=1 -timeout 20m -skip '$(SAM_TESTS)' ./...

sam-tests:
	$(GO) test -race -count=1 -timeout 20m -run '$(SAM_TESTS)' ./tests

clean:
	rm -rf $(BIN) .aws-sam

# ---- The worker service's container image: see README, Container image -------
.PHONY: image image-push

IMAGE_DIR       ?= $(BIN)/image
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64

## image: build the worker's OCI image (linux/amd64 + linux/arm64, nothing pulled, reproducible) into bin/image; load this machine's into Docker as flashsale:latest when one answers
image:
	$(GO) run ./tools/image build --out $(IMAGE_DIR) --platforms $(IMAGE_PLATFORMS)

## image-push: build, then push the image index to REPO (make image-push REPO=<account>.dkr.ecr.<region>.amazonaws.com/flashsale) with docker login's credentials
image-push:
	@test -n "$(REPO)" || { echo "usage: make image-push REPO=<registry>/flashsale (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/flashsale)" >&2; exit 2; }
	@$(MAKE) --no-print-directory image
	$(GO) run ./tools/image push --layout $(IMAGE_DIR)/oci --repo $(REPO)

# ---- Tools the SAM and Docker tests need --------------------------------------
.PHONY: tools tools-check lambda-base-image

## tools: install the SAM CLI (pinned, .venv/sam), Docker Engine, busybox-static and CA certificates; start dockerd; build the offline Lambda base image
tools:
	scripts/tools all

## tools-check: say which of those tools are there
tools-check:
	scripts/tools check

## lambda-base-image: the offline stand-in for public.ecr.aws/lambda/provided:al2023-<arch> (no registry needed)
lambda-base-image:
	scripts/tools base-image

# ---- Serverless (AWS SAM): see docs/serverless.md ---------------------------
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags "-s -w"
# LAMBDA_ARCH is the functions' architecture as Lambda names it (template
# parameter Architecture). `sam build` does not tell a makefile build the
# architecture (aws/aws-sam-cli#3349), so `make sam-build ARCH=...` passes the
# same value to both; the Go name follows from it.
LAMBDA_ARCH   ?= arm64
GOARCH_arm64  := arm64
GOARCH_x86_64 := amd64
LAMBDA_GOARCH ?= $(GOARCH_$(LAMBDA_ARCH))
HOST_ARCH     := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
RIE_VERSION   := v0.0.0-20261030222936-bef5c4ba774d
RIE           := $(abspath $(BIN))/aws-lambda-rie
SAM_VENV      ?= .venv/sam
SAM           ?= $(if $(wildcard $(SAM_VENV)/bin/sam),$(SAM_VENV)/bin/sam,sam)
STACK         ?= flashsale
FN            ?= processor
EVENT         ?= events/sns-order.json
SAM_FN_api       := ApiFunction
SAM_FN_processor := ProcessorFunction
FN_DIR_ApiFunction       := api
FN_DIR_ProcessorFunction := processor
# Builds for AWS (sam-build, deploy) default to the template's arm64; local
# ones (sam-invoke, sam-api) to this machine's architecture, in a build
# directory of their own so that `sam deploy` never ships them.
SAM_ARCH       = $(or $(ARCH),arm64)
SAM_LOCAL_ARCH = $(or $(ARCH),$(HOST_ARCH))
SAM_LOCAL_DIR  := .aws-sam/local
# --skip-pull-image: use the base image already here (the real one, or the
# offline stand-in of `make lambda-base-image`); host.docker.internal is this
# machine's Docker bridge address, where a local moto_server listens.
SAM_LOCAL_FLAGS ?= --skip-pull-image --add-host host.docker.internal:host-gateway
# SAM reads samconfig.toml from the template's directory: name ours, or a
# built template in .aws-sam/local/build would run without it (and
# start-api without its warm containers).
SAM_CONFIG      := --config-file $(CURDIR)/samconfig.toml
SAM_API_PORT    ?= 3000
export SAM_CLI_TELEMETRY := 0

.PHONY: build-ApiFunction build-ProcessorFunction check-bootstraps lambda invoke sam-build sam-local-build sam-invoke sam-api validate deploy logs delete

# `sam build` runs these (BuildMethod: makefile) with ARTIFACTS_DIR set. They
# cross-compile for LAMBDA_ARCH (arm64 unless told).
build-ApiFunction build-ProcessorFunction: build-%:
	@test -n "$(ARTIFACTS_DIR)" || { echo "make $@: ARTIFACTS_DIR is not set. sam build sets it (make sam-build); by hand: make $@ ARTIFACTS_DIR=<dir>" >&2; exit 2; }
	@test -n "$(LAMBDA_GOARCH)" || { echo "make $@: LAMBDA_ARCH=$(LAMBDA_ARCH): want arm64 or x86_64" >&2; exit 2; }
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(FN_DIR_$*)

## check-bootstraps: every DIR/*/bootstrap is a Linux executable for ARCH (a mismatch would only fail on AWS, at the first invocation)
check-bootstraps:
	@test -n "$(DIR)" -a -n "$(ARCH)" || { echo "usage: make check-bootstraps DIR=.aws-sam/build ARCH=arm64|x86_64" >&2; exit 2; }
	@set -- $(DIR)/*/bootstrap; test -f "$$1" || { echo "$(DIR): no */bootstrap: build first (make sam-build)" >&2; exit 1; }; \
	for f; do \
		m=$$(od -An -tx1 -j16 -N4 "$$f" | tr -d ' \n'); \
		case "$(ARCH):$$(od -An -c -j1 -N3 "$$f" | tr -d ' \n'):$$m" in \
		x86_64:ELF:02003e00|arm64:ELF:0200b700) echo "$$f: Linux executable for $(ARCH), $$(wc -c <"$$f") bytes";; \
		*) echo "$$f: not a Linux executable for $(ARCH) (ELF e_type, e_machine: $$m): built for another architecture? make sam-build ARCH=$(ARCH)" >&2; exit 1;; \
		esac; \
	done

## sam-build: sam build for AWS (ARCH=arm64 default, or x86_64), then check each bootstrap's architecture
sam-build:
	LAMBDA_ARCH=$(SAM_ARCH) $(SAM) build --parameter-overrides Architecture=$(SAM_ARCH) $(SAM_BUILD_FLAGS)
	@$(MAKE) --no-print-directory check-bootstraps DIR=$(or $(SAM_BUILD_DIR),.aws-sam/build) ARCH=$(SAM_ARCH)

# sam-local-build: the same for this machine (ARCH=$(HOST_ARCH)), in .aws-sam/local
sam-local-build:
	@$(MAKE) --no-print-directory sam-build ARCH=$(SAM_LOCAL_ARCH) SAM_BUILD_DIR=$(SAM_LOCAL_DIR)/build \
		SAM_BUILD_FLAGS="--build-dir $(SAM_LOCAL_DIR)/build --cache-dir $(SAM_LOCAL_DIR)/cache"

## lambda: both bootstraps for this machine's architecture, in bin/lambda/{api,processor}/bootstrap
lambda:
	CGO_ENABLED=0 GOOS=linux $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/lambda/api/bootstrap ./functions/api
	CGO_ENABLED=0 GOOS=linux $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/lambda/processor/bootstrap ./functions/processor
	@ls -l $(BIN)/lambda/*/bootstrap

$(RIE):
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## invoke: run FN=api|processor under aws-lambda-rie with EVENT=events/x.json (sam local invoke, no Docker)
invoke: lambda $(RIE)
	$(GO) run ./tests/invoke -fn $(FN) -event $(EVENT) -bootstrap $(BIN)/lambda/$(FN)/bootstrap -rie $(RIE)

## sam-invoke: sam local invoke FN=api|processor with EVENT=events/x.json and events/env.json (needs `make tools`)
sam-invoke: sam-local-build
	$(SAM) local invoke $(SAM_FN_$(FN)) --template $(SAM_LOCAL_DIR)/build/template.yaml $(SAM_CONFIG) --event $(EVENT) \
		--env-vars events/env.json --parameter-overrides Architecture=$(SAM_LOCAL_ARCH) $(SAM_LOCAL_FLAGS)

## sam-api: sam local start-api on http://127.0.0.1:3000 with events/env.json (needs `make tools`)
sam-api: sam-local-build
	$(SAM) local start-api --template $(SAM_LOCAL_DIR)/build/template.yaml $(SAM_CONFIG) --host 127.0.0.1 --port $(SAM_API_PORT) \
		--env-vars events/env.json --parameter-overrides Architecture=$(SAM_LOCAL_ARCH) $(SAM_LOCAL_FLAGS)

## validate: sam validate --lint and cfn-lint on template.yaml
validate:
	$(SAM) validate --lint
	cfn-lint template.yaml

# The architecture `sam deploy` declares: samconfig.toml's Architecture
# override, else the template's default; `make deploy` builds for it.
DEPLOY_ARCH = $(or $(shell sed -n 's/.*Architecture=\\"\([a-z0-9_]*\)\\".*/\1/p' samconfig.toml),arm64)

## deploy: sam build for samconfig.toml's Architecture (checked) + sam deploy (run `sam deploy --guided` the first time)
deploy:
	@test -z "$(ARCH)" -o "$(ARCH)" = "$(DEPLOY_ARCH)" || { echo "make deploy: ARCH=$(ARCH), but samconfig.toml deploys Architecture=$(DEPLOY_ARCH): change its parameter_overrides instead" >&2; exit 2; }
	@$(MAKE) --no-print-directory sam-build ARCH=$(DEPLOY_ARCH)
	$(SAM) deploy

## logs: tail both functions' CloudWatch Logs (STACK=flashsale)
logs:
	$(SAM) logs --stack-name $(STACK) --cw-log-group /aws/lambda/$(STACK)-api --cw-log-group /aws/lambda/$(STACK)-processor --tail

## delete: delete the stack (STACK=flashsale)
delete:
	$(SAM) delete --stack-name $(STACK)
