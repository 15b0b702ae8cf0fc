# Build stage: compile the release binary (templates and migrations are embedded).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY templates ./templates
COPY migrations ./migrations
COPY static ./static
RUN cargo build --release --locked

# Run stage: a small image with the binary, its static files and configuration.
FROM debian:bookworm-slim
RUN useradd --system --home /app shopdesk
WORKDIR /app
COPY --from=build /src/target/release/shopdesk /usr/local/bin/shopdesk
COPY static ./static
COPY Rocket.toml ./Rocket.toml
# A release build: no demo data or published demo login unless the container
# is started with SHOPDESK_DEMO=true (or the command `shopdesk serve --demo`).
ENV ROCKET_ADDRESS=0.0.0.0 \
    ROCKET_PORT=8000 \
    ROCKET_STATIC_DIR=/app/static \
    SHOPDESK_DEMO=false
USER shopdesk
EXPOSE 8000
CMD ["shopdesk", "serve"]
