# syntax=docker/dockerfile:1
# The event functions: `snapback function <checkpoint|restore|preemption|all>` (knative/functions.yaml).
# Build from the repository root: docker build -f images/functions.Dockerfile .   (or `make images`)
ARG NODE_IMAGE=node:24-trixie-slim

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

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /opt/snapback-app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
# Numeric, so that runAsNonRoot can be verified (the `node` user of the base image).
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["/opt/snapback-app/bin/snapback"]
CMD ["function", "all"]
