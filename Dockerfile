# uts-aggregator image: a static Go binary on an empty (scratch) base.
#
#   docker build -t uts-aggregator .                     compile in the Go stage (needs a registry for golang)
#   docker build --target prebuilt -t uts-aggregator .   use the binary already built into dist/ (no registry needed)
#   docker build --target runtime-loadgen -t uts-aggregator-loadgen .   the load generator (prebuilt-loadgen: from dist/)
#
# Both targets end in the same runtime-base stage; only where the binaries
# come from differs. See "Docker image" in README.md.

# The runtime every target shares: no shell, no libc, a non-root user.
FROM scratch AS runtime-base
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="uts-aggregator" \
      org.opencontainers.image.description="Idempotent, persistent event aggregator (Go, SQLite)" \
      org.opencontainers.image.source="https://github.com/uts-aggregator/uts-aggregator" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# /app/data must exist and belong to the service user for named volumes;
# scratch has no mkdir or chown, so an empty directory is copied in.
COPY --chown=65532:65532 dist/.keep /app/data/.keep
ENV AGGREGATOR_ADDR=:8080 \
    AGGREGATOR_DATA_DIR=/app/data \
    AGGREGATOR_STORE=sqlite
USER 65532:65532
WORKDIR /app
EXPOSE 8080
VOLUME ["/app/data"]
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=3 CMD ["/app/aggregator", "healthcheck"]
ENTRYPOINT ["/app/aggregator"]

# The binary built on the host, with the flags of the build stage below
# (without -s -w the image is about 10 MB larger):
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o dist/aggregator ./cmd/aggregator
# The COPY names the file, so that a dist/ without it fails the build here
# ("COPY failed: ... stat dist/aggregator: file does not exist") rather than
# making an image without a program. Run the go build above first.
FROM runtime-base AS prebuilt
COPY dist/aggregator /app/aggregator

# The load generator, which the compose publisher runs, in an image of its
# own: the server binary does not carry it. prebuilt-loadgen takes
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o dist/loadgen ./cmd/loadgen
FROM scratch AS loadgen-base
USER 65532:65532
ENTRYPOINT ["/app/loadgen"]

FROM loadgen-base AS prebuilt-loadgen
COPY dist/loadgen /app/loadgen

# Compiles the binaries from source.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${REVISION}" -o /out/aggregator ./cmd/aggregator && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/loadgen ./cmd/loadgen

FROM loadgen-base AS runtime-loadgen
COPY --from=build /out/loadgen /app/loadgen

# The default target.
FROM runtime-base AS runtime
COPY --from=build /out/aggregator /app/aggregator
