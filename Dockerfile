# syntax=docker/dockerfile:1.7
# rotor's image: the `rotor` binary with its default policy embedded, on
# distroless/cc (glibc, CA roots, tzdata), as numeric non-root user 65532.
#
#   docker build -t rotor:dev --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# The build commands below are also run outside Docker by
# .ci/image-build-steps.sh; keep the two in step.

ARG RUST_VERSION=1.95.0

# Debian bookworm, like distroless cc-debian12: the binary needs no newer
# glibc than the final image has.
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# host/build.rs compiles the policies in guests/ for this target and embeds
# the default one in the binary.
RUN rustup target add wasm32-wasip2
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p rotor \
    && install -D -m 0755 target/release/rotor /out/rotor

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="rotor" \
      org.opencontainers.image.description="Rotates Linkerd's trust anchor and identity issuer without breaking meshed traffic" \
      org.opencontainers.image.source="https://github.com/rotor-rs/rotor" \
      org.opencontainers.image.url="https://github.com/rotor-rs/rotor" \
      org.opencontainers.image.documentation="https://github.com/rotor-rs/rotor/blob/main/README.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="rotor" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=builder /out/rotor /rotor
# Numeric, so kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/rotor"]
CMD ["--help"]
