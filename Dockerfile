# syntax=docker/dockerfile:1
# Orchard: one image for `orchard serve` (the default) and `orchard worker`.
#   docker build -t orchard .
#   docker run -p 3000:3000 orchard                       # SQLite in /data
#   docker run orchard worker --server http://orchard:3000 --token …

# ---- build: the release binary and the site (wasm, JS, CSS, static files) ----
FROM rust:1.95-trixie AS build
# Node 20 for Tailwind v4 and binaryen's wasm-opt from npm; python3 for the bootstrap script.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Tools first (cargo-leptos, wasm-bindgen-cli, npm packages), so source edits keep this layer.
COPY Makefile Cargo.toml Cargo.lock package.json package-lock.json ./
COPY scripts ./scripts
RUN scripts/bootstrap
COPY Leptos.toml rustfmt.toml ./
COPY shared ./shared
COPY engine ./engine
COPY app ./app
COPY frontend ./frontend
COPY server ./server
COPY end2end ./end2end
COPY migrations ./migrations
COPY public ./public
COPY style ./style
RUN make release \
 && strip target/release/orchard

# ---- runtime: the binary, the site and nothing else ----
FROM debian:trixie-slim AS runtime
# curl for HEALTHCHECK; ca-certificates for S3 over TLS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin orchard \
 && mkdir -p /data \
 && chown orchard:orchard /data
WORKDIR /app
COPY --from=build /src/target/release/orchard /usr/local/bin/orchard
COPY --from=build /src/target/site /app/site
COPY --from=build /src/Leptos.toml /app/Leptos.toml
ENV ORCHARD_ADDR=0.0.0.0:3000 \
    ORCHARD_DATA_DIR=/data \
    DATABASE_URL=sqlite:/data/orchard.db \
    ORCHARD_SITE_ROOT=/app/site \
    ORCHARD_LEPTOS_TOML=/app/Leptos.toml \
    ORCHARD_LOG_FORMAT=json
USER orchard:orchard
VOLUME ["/data"]
EXPOSE 3000
# Readiness of `orchard serve` (a worker container overrides this with its metrics port).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:3000/readyz"]
ENTRYPOINT ["orchard"]
CMD ["serve"]
