# certledger node image (issue 14). Two stages:
#   build:   Debian 12 with the repository's own package list (scripts/setup.sh, the script that
#            scripts/test.sh and scripts/run.sh use), a Release build of the `certledger` binary;
#   runtime: Debian 12 with the runtime libraries only, a non-root user, the node's home in a
#            volume and a health check on the node's admin listener.
# Build: docker build -t certledger .    Run a network: deploy/README.md.
# Lint:  bash scripts/lint-docker.sh (CI runs it from scripts/test.sh).

FROM debian:bookworm AS build

# Only setup.sh first, so that the package layer is rebuilt only when the package list changes.
# `setup.sh --build-only` installs what building the binary needs (compilers, libraries; not the
# test-only tools); none of it reaches the runtime stage.
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh --build-only && rm -rf /var/lib/apt/lists/*

# Warnings are not errors here: at -O3 (Release) GCC 12 reports warnings inside inlined standard
# library code that -O2 does not (-Warray-bounds in network/wire.cc EncodeFrame, -Wrestrict in
# tools/tx.cc BuildTx, -Wnull-dereference via node/wal.cc and tools/qr.cc). CI still builds
# with -Werror at -O2 (RelWithDebInfo) and in Debug (scripts/test.sh).
# The git commit that `certledger version` reports (.git is not in the build context):
#   docker build --build-arg CERTLEDGER_GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
# node/git_commit.cmake reads it from the environment; "unknown" without it.
ARG CERTLEDGER_GIT_COMMIT=unknown
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCERTLEDGER_WERROR=OFF \
      -DCERTLEDGER_BENCH=OFF -DCERTLEDGER_TESTS=OFF -DCERTLEDGER_FUZZ=OFF \
    && cmake --build /build --target certledger \
    && DESTDIR=/out cmake --install /build --prefix /usr --strip

FROM debian:bookworm AS runtime

# The shared libraries that the certledger binary links (Debian 12 package names), and curl for
# the health check. libprometheus-cpp-core1.0 and libtomlplusplus3: metrics and TOML
# configuration (issue 14).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates \
       curl \
       libfmt9 \
       libleveldb1d \
       libpng16-16 \
       libprometheus-cpp-core1.0 \
       libqrencode4 \
       libsecp256k1-1 \
       libsnappy1v5 \
       libspdlog1.10 \
       libssl3 \
       libtomlplusplus3 \
       libzbar0 \
    && rm -rf /var/lib/apt/lists/*

# A fixed UID/GID (10001), so that bind-mounted homes can be given to it (deploy/README.md).
RUN groupadd --system --gid 10001 certledger \
    && useradd --system --uid 10001 --gid certledger --no-create-home \
       --home-dir /var/lib/certledger --shell /usr/sbin/nologin certledger \
    && mkdir -p /var/lib/certledger \
    && chown certledger:certledger /var/lib/certledger \
    && chmod 0700 /var/lib/certledger

COPY --from=build /out/usr/bin/certledger /usr/bin/certledger
COPY --from=build /out/usr/share/doc/certledger /usr/share/doc/certledger
# Fails the image build if a shared library is missing from the list above.
RUN certledger --version

# The node's home: config, genesis.json, node_key.json, validator_key.json (mode 0600), data/.
VOLUME ["/var/lib/certledger"]
WORKDIR /var/lib/certledger
USER certledger

# 26656: peers; 8080: public HTTP API. The admin listener (metrics_listen, default
# 127.0.0.1:26660: /metrics, /healthz, /readyz) stays inside the container unless configured.
EXPOSE 26656 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:26660/healthz"]

ENTRYPOINT ["certledger"]
CMD ["node", "--home", "/var/lib/certledger"]
