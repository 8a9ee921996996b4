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
