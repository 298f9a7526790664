# snapback — every target runs on the project's own Node (>= 22) and tools under .tools/.
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(TOOLS)/criu/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup build test lint format bench demo clean node-tools system-tools container-tools

## setup: install everything (Node 24, npm packages, criu 4.2, helpers) and build. Idempotent.
setup: node-tools system-tools container-tools $(TOOLS)/bin/snapback-no-io-uring $(TOOLS)/bin/snapback-cuda-helper \
  $(TOOLS)/bin/snapback-init node_modules/.installed build

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

## The CUDA driver's checkpoint API over one long-lived process (loads libcuda.so.1 at run time: no CUDA
## toolkit needed). test/lib/cuda/driver-standin.ts builds it the same way for the tests.
$(TOOLS)/bin/snapback-cuda-helper: native/cuda-helper.c
	@mkdir -p $(TOOLS)/bin
	cc -O2 -Wall -Wextra -pthread -o $@ $< -ldl

## PID 1 of placeholder containers (a restored workload lives as the container's own PID 1 would) and, with
## --forward, of the process runtime's workloads: static, so that it runs in any image.
$(TOOLS)/bin/snapback-init: native/snapback-init.c
	@mkdir -p $(TOOLS)/bin
	cc -O2 -Wall -Wextra -Wno-format-truncation -static -o $@ $<

node_modules/.installed: package.json package-lock.json | node-tools
	npm ci --no-audit --no-fund
	@touch $@

build: node_modules/.installed
	@bash scripts/gen-proto.sh
	tsc -p tsconfig.json

## test: the whole suite (unit, integration on loopback, real CRIU) with coverage, from source: `npm test`
## type-checks and runs every test under tsx, and the tests start snapback from source too
## (src/cli/self.ts). Needs root.
test: setup
	npm run test:coverage

## manifests-check: validate knative/ offline — schemas and cross-checks against the code (also in `make test`).
.PHONY: manifests-check images
manifests-check: node_modules/.installed
	node --import tsx --test --test-reporter=spec test/manifests/manifests.test.ts test/manifests/sources.test.ts

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

## soak: sustained checkpoint events against the functions with real agents, on loopback (not in `make test`).
## Flags through SOAK_ARGS, e.g. make soak SOAK_ARGS="--rate 50 --duration 60". Figures: docs/soak.md.
.PHONY: soak
soak: build
	node --import tsx scripts/soak/soak.ts $(SOAK_ARGS)

## lint: format and lint (biome), the agent's proto (buf lint), the layer rules (.dependency-cruiser.cjs:
## no cycles, src/ never imports functions/, lib below executor below transport, events apart from
## storage) and dead code or unused dependencies (knip.jsonc) — `npm run lint`.
lint: node_modules/.installed
	npm run lint

format: node_modules/.installed
	biome check --write .

## bench: figures for docs/benchmarks.md (not tests; ~10 minutes; the demo workload part wants python3-torch)
bench: setup
	node --import tsx bench/run.ts

## demo: the main job end to end on this machine (installs python3-torch for the model server once)
demo: setup
	@bash scripts/setup-demo.sh
	bin/snapback demo

clean:
	rm -rf dist coverage src/generated
