# syntax=docker/dockerfile:1
# The node agent: `snapback agent` with criu >= 4.2, nsenter (util-linux), the io_uring-blocking launcher,
# the CUDA driver helper, snapback-init for placeholders, the io_uring seccomp profile and, optionally,
# NVIDIA's cuda-checkpoint (knative/agent.yaml).
# Build from the repository root: docker build -f images/agent.Dockerfile .   (or `make images`)
#
# criu is a self-contained folder (criu with its own loader and libraries, patched by
# scripts/setup-criu.sh for /opt/snapback/criu): the agent runs it on the node for a dump, and inside a
# placeholder's namespaces for a restore, through its own loader reached from the agent (src/lib/criu/
# placement.ts) — whatever the workload image's libc, and with nothing of it in the workload.
ARG NODE_IMAGE=node:24-trixie-slim
ARG DEBIAN_IMAGE=debian:trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json buf.yaml buf.gen.yaml ./
COPY proto proto
COPY scripts/gen-proto.sh scripts/
COPY src src
COPY functions functions
COPY bin bin
RUN PATH="$PWD/node_modules/.bin:$PATH" bash scripts/gen-proto.sh && npx tsc -p tsconfig.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# criu 4.2 from Debian sid with every library it needs, as `make setup` installs it.
FROM ${DEBIAN_IMAGE} AS criu
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates patchelf \
  && rm -rf /var/lib/apt/lists/*
COPY scripts/setup-criu.sh /tmp/setup-criu.sh
RUN bash /tmp/setup-criu.sh /opt/snapback/criu

# Static, so it runs inside any workload image.
FROM ${DEBIAN_IMAGE} AS native
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev \
  && rm -rf /var/lib/apt/lists/*
COPY native/no-io-uring.c /tmp/no-io-uring.c
RUN mkdir -p /out && cc -O2 -Wall -Wextra -static -o /out/snapback-no-io-uring /tmp/no-io-uring.c
# A placeholder's PID 1: pods copy it into an emptyDir with an init container of this image (docs/deploy.md).
COPY native/snapback-init.c /tmp/snapback-init.c
RUN cc -O2 -Wall -Wextra -Wno-format-truncation -static -o /out/snapback-init /tmp/snapback-init.c
# The CUDA driver helper runs in the agent's own container and loads libcuda.so.1 at run time: not static.
COPY native/cuda-helper.c /tmp/cuda-helper.c
RUN cc -O2 -Wall -Wextra -pthread -o /out/snapback-cuda-helper /tmp/cuda-helper.c -ldl

# NVIDIA's cuda-checkpoint, only when a URL is given (--build-arg CUDA_CHECKPOINT_URL=…, e.g. the binary
# in github.com/NVIDIA/cuda-checkpoint under bin/x86_64_Linux); without it the agent's CUDA phase is off
# unless the node provides cuda-checkpoint.
FROM ${DEBIAN_IMAGE} AS cuda
ARG CUDA_CHECKPOINT_URL=
RUN mkdir -p /out && if [ -n "$CUDA_CHECKPOINT_URL" ]; then \
    apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates curl \
    && curl -fsSL -o /out/cuda-checkpoint "$CUDA_CHECKPOINT_URL" && chmod 0755 /out/cuda-checkpoint; \
  fi

FROM ${NODE_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends util-linux \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /opt/snapback-app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY --from=criu /opt/snapback/criu /opt/snapback/criu
COPY --from=native /out/snapback-no-io-uring /usr/local/bin/snapback-no-io-uring
COPY --from=native /out/snapback-cuda-helper /usr/local/bin/snapback-cuda-helper
# What pods take from this image: placeholders' PID 1 (an init container copies it), and the seccomp
# profile the DaemonSet's init container installs for the kubelet.
COPY --from=native /out/snapback-init /usr/local/share/snapback/bin/snapback-init
# The process runtime's workloads run under it too (snapback-init --forward).
ENV SNAPBACK_PROCESS_INIT=/usr/local/share/snapback/bin/snapback-init
COPY knative/seccomp/no-io-uring.json /usr/local/share/snapback/seccomp/no-io-uring.json
COPY --from=cuda /out/ /usr/local/bin/
# Root: CRIU and nsenter need it (the DaemonSet also runs the container privileged, with hostPID).
ENTRYPOINT ["/opt/snapback-app/bin/snapback"]
CMD ["agent"]
