# syntax=docker/dockerfile:1
#
# jetflow: one static binary on a distroless base, running as non-root.
#   docker build -t jetflow .
#   docker run --rm -p 127.0.0.1:4222:4222 -v jetflow-data:/data \
#     -e JETFLOW_NATS_PASSWORD -e NATS_WORKER_PASSWORD -e NATS_ADMIN_PASSWORD \
#     -e NATS_CLIENT_PASSWORD -e NATS_SYS_PASSWORD jetflow             # embedded NATS, users and permissions on
#   docker run --rm -e JETFLOW_NATS_USER=jetflow -e JETFLOW_NATS_PASSWORD \
#     jetflow serve --nats-url nats://nats:4222 --replicas 3            # external cluster
# docker-compose.yml runs it against a 3-node JetStream cluster. The
# embedded server runs with the shipped nats.conf: no anonymous client gets
# in (README, "Security"); the five passwords must be set and not empty.

FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/jetflow ./cmd/jetflow
# The embedded server's store, owned by the runtime user (the base has no shell).
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jetflow /usr/local/bin/jetflow
COPY --from=build --chown=65532:65532 /out/data /data
COPY nats.conf /etc/jetflow/nats.conf
COPY deploy/nats/accounts.conf /etc/jetflow/deploy/nats/accounts.conf
USER 65532:65532
# 4222: the embedded NATS server's clients; 9464: /metrics, /healthz, /readyz.
EXPOSE 4222 9464
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/jetflow"]
# Embedded NATS reachable from outside the container, with nats.conf's
# users and permissions (deploy/nats/accounts.conf): serve logs in as user
# jetflow with $JETFLOW_NATS_PASSWORD. The passwords come from the
# environment, never from flags (ps shows those). /readyz details answer
# loopback callers only.
CMD ["serve", "--nats-config", "/etc/jetflow/nats.conf", "--nats-user", "jetflow", "--listen", "0.0.0.0:4222", "--store-dir", "/data", "--metrics-listen", "0.0.0.0:9464"]
