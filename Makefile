# flashsale: see README.md. `make run` starts the system on its embedded
# default (in-process queue, no AWS); `make test` runs every test.

GO      ?= go
BIN     ?= bin
ARGS    ?=

.PHONY: all build run test fmt-check vet unit clean

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
test: fmt-check vet unit

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

clean:
	rm -rf $(BIN) .aws-sam

# ---- Serverless (AWS SAM): see docs/serverless.md ---------------------------
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags "-s -w"
LAMBDA_GOARCH ?= arm64
RIE_VERSION   := v0.0.0-20261030222936-bef5c4ba774d
RIE           := $(abspath $(BIN))/aws-lambda-rie
STACK         ?= flashsale
FN            ?= processor
EVENT         ?= events/sns-order.json
SAM_FN_api       := ApiFunction
SAM_FN_processor := ProcessorFunction

.PHONY: build-ApiFunction build-ProcessorFunction lambda invoke sam-invoke validate deploy logs delete

# `sam build` runs these (BuildMethod: makefile) with ARTIFACTS_DIR set; the
# functions run on arm64 (template.yaml), so they cross-compile.
build-ApiFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api

build-ProcessorFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/processor

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

## sam-invoke: the same through `sam local invoke` (needs the SAM CLI and Docker)
sam-invoke:
	sam build
	sam local invoke $(SAM_FN_$(FN)) --event $(EVENT) --env-vars events/env.json

## validate: lint template.yaml (SAM transform included) with cfn-lint
validate:
	cfn-lint template.yaml

## deploy: sam build + sam deploy (samconfig.toml; run `sam deploy --guided` the first time)
deploy:
	sam build
	sam deploy

## logs: tail both functions' CloudWatch Logs (STACK=flashsale)
logs:
	sam logs --stack-name $(STACK) --cw-log-group /aws/lambda/$(STACK)-api --cw-log-group /aws/lambda/$(STACK)-processor --tail

## delete: delete the stack (STACK=flashsale)
delete:
	sam delete --stack-name $(STACK)
