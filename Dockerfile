# syntax=docker/dockerfile:1
# Build stage: the same command CI runs (`cargo build --release --locked`).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked

# Runtime stage: a small Debian with CA certificates, running as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 broadside \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin broadside \
    && mkdir -p /app/data /app/config \
    && chown -R broadside:broadside /app
WORKDIR /app
COPY --from=build /src/target/release/broadside /usr/local/bin/broadside
COPY config/broadside.toml /app/config/broadside.toml
USER 10001:10001
ENV BROADSIDE_LISTEN=0.0.0.0:8080 \
    BROADSIDE_DATABASE_URL=sqlite:///app/data/broadside.db
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["broadside", "health"]
ENTRYPOINT ["broadside"]
CMD ["serve"]
