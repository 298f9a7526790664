# snapback — every target runs on the project's own Node (>= 22) and tools under .tools/.
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(TOOLS)/criu/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup build test lint format bench demo clean node-tools system-tools container-tools

## setup: install everything (Node 24, npm packages, criu 4.2, helpers) and build. Idempotent.
setup: node-tools system-tools container-tools $(TOOLS)/bin/snapback-no-io-uring node_modules/.installed build

node-tools:
	@bash scripts/setup-node.sh $(TOOLS)

system-tools:
	@bash scripts/setup-criu.sh $(TOOLS)/criu

## container-tools: containerd 1.7, runc and a static busybox (test images) under .tools/containerd.
container-tools:
	@bash scripts/setup-containerd.sh $(TOOLS)/containerd

$(TOOLS)/bin/snapback-no-io-uring: native/no-io-uring.c
	@mkdir -p $(TOOLS)/bin
	cc -O2 -Wall -Wextra -o $@ $<

node_modules/.installed: package.json package-lock.json | node-tools
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed
	@bash scripts/gen-proto.sh
	tsc -p tsconfig.json

## test: the whole suite (unit, integration on loopback, real CRIU). Needs root for CRIU.
test: setup
	tsc -p tsconfig.test.json
	c8 --reporter=text-summary node --import tsx --test --test-concurrency=1 --test-reporter=spec 'test/**/*.test.ts'

## manifests-check: validate knative/ offline — schemas and cross-checks against the code (also in `make test`).
.PHONY: manifests-check images
manifests-check: node_modules/.installed
	node --import tsx --test --test-reporter=spec test/manifests/manifests.test.ts

## images: build the agent and functions images (needs a Docker engine; push them, then set knative/ images).
VERSION := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' package.json)
AGENT_IMAGE ?= snapback/agent:$(VERSION)
FUNCTIONS_IMAGE ?= snapback/functions:$(VERSION)
images:
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { \
	  echo "make images: no Docker engine answers here (no docker command, or \`docker info\` fails)." >&2; \
	  echo "  Build where one runs: docker build -f images/agent.Dockerfile -t $(AGENT_IMAGE) ." >&2; \
	  echo "                        docker build -f images/functions.Dockerfile -t $(FUNCTIONS_IMAGE) ." >&2; \
	  exit 1; }
	docker build -f images/agent.Dockerfile -t $(AGENT_IMAGE) .
	docker build -f images/functions.Dockerfile -t $(FUNCTIONS_IMAGE) .

lint: node_modules/.installed
	biome check .
	madge --circular --extensions ts --ts-config tsconfig.json src functions

format: node_modules/.installed
	biome check --write .

bench: build
	@echo "make bench: not built yet" >&2; exit 1

demo: setup
	@echo "make demo: not built yet" >&2; exit 1

clean:
	rm -rf dist coverage src/agent/generated
