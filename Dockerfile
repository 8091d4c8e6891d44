# One image for every role: `kconnect operator` (the Helm chart's
# Deployment), `kconnect worker` (the operator's worker Pods) and
# `kconnect standalone`. Multi-stage: the runtime image is Debian slim with
# the one static-ish binary, running as the unprivileged user 10001.
# Not built in CI here (no Docker engine on the build machines).

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config libssl-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
# Cargo.toml names the benchmark targets; their files must be there.
COPY benches ./benches
COPY bench ./bench
RUN cargo build --release --locked --bin kconnect && strip target/release/kconnect

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates zlib1g libssl3 libcurl4 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home kconnect
COPY --from=build /src/target/release/kconnect /usr/local/bin/kconnect
USER 10001
EXPOSE 8083 8084
ENTRYPOINT ["/usr/local/bin/kconnect"]
