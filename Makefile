# Meridian build and test entry points. CGO is off everywhere: static
# binaries and faster builds.
export CGO_ENABLED := 0

GO ?= go
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
# protoc comes from Debian (protobuf-compiler 3.21.12); the Go plugins are
# pinned here and built into ./bin.
BIN := $(CURDIR)/bin

.PHONY: build test test-race soak proto vet fmt

build:
	$(GO) build -o $(BIN)/meridian ./cmd/meridian

# The default suite: what CI runs. Long fault runs live behind `make soak`.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 25m ./...

soak:
	MERIDIAN_SOAK=1 $(GO) test -count=1 -timeout 120m -run 'Soak|Fault' ./...

proto:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	protoc --version | grep -q '3.21' || { echo "make proto: needs protoc 3.21 (apt-get install protobuf-compiler)"; exit 1; }
	protoc -I api \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --go_out=api --go_opt=paths=source_relative \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc --go-grpc_out=api --go-grpc_opt=paths=source_relative \
		api/meridian.proto
	mkdir -p api/meridianpb && mv api/meridian.pb.go api/meridian_grpc.pb.go api/meridianpb/

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')
