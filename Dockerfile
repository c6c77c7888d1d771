# syntax=docker/dockerfile:1
# Broadside's image: `docker build -t broadside .`
#
# CI cannot run a Docker daemon, so `.ci/docker-context` replays this file's
# build stage: it copies what the COPY lines below copy (honouring
# .dockerignore) into an empty folder and runs the `cargo` RUN line there.

# Build stage. Cargo.toml declares the benchmarks, so Cargo needs benches/
# to read the manifest even for a release build of the server alone.
FROM rust:1.95-slim-bookworm AS build
# The data folder the runtime image's volume starts from, owned by nonroot.
RUN mkdir -p /out/data
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY benches ./benches
RUN cargo build --release --locked

# Runtime stage: glibc, CA certificates and a non-root user, nothing else
# (no shell, no package manager). Debian 12, like the build stage.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/broadside /usr/local/bin/broadside
COPY --from=build --chown=65532:65532 /out/data /app/data
COPY config/broadside.toml /app/config/broadside.toml
WORKDIR /app
USER 65532:65532
# Configuration is by environment: every key of config/broadside.toml has a
# BROADSIDE_<KEY> variable. These two make the container reachable and keep
# its database on the volume.
ENV BROADSIDE_LISTEN=0.0.0.0:8080 \
    BROADSIDE_DATABASE_URL=sqlite:///app/data/broadside.db
VOLUME ["/app/data"]
EXPOSE 8080
# `broadside health` asks this process's /readyz (web and worker alike).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["broadside", "health"]
ENTRYPOINT ["broadside"]
CMD ["serve"]
