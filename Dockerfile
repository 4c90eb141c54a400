# syntax=docker/dockerfile:1
#
# camserve on the CPU, built from Debian packages exactly as CI builds it:
#
#   docker build -t camserve .
#   docker run --rm -p 50051:50051 -p 9464:9464 -p 8080:8080 -v camserve-cache:/var/lib/camserve/cache camserve
#
# Stage "build" runs scripts/install_deps.sh and scripts/build.sh (Release,
# Ninja; the default model digits_cnn is trained and exported with Debian's
# python3-torch during the build). Stage "runtime" holds only the shared
# libraries (scripts/install_deps.sh --runtime), the two binaries, the default
# model and the configuration template, and runs as the unprivileged user
# camserve (uid/gid 10001).
#
# Settings: the ENTRYPOINT fixes the container's addresses and cache folder;
# CMD serves the baked-in model and is replaced by whatever arguments the
# container is given, e.g.
#   docker run -v $PWD/models:/models camserve --model /models/resnet50.pt --batcher-max-batch-size 16
#   docker run -v $PWD/models:/models -v $PWD/camserve.yaml:/etc/camserve/camserve.yaml \
#       camserve --config /etc/camserve/camserve.yaml     # a file with a models: list under /models
# Every other setting also comes from CAMSERVE_* variables (docs/configuration.md).
# Flags win over variables: the three ENTRYPOINT settings change only by flags,
# and CAMSERVE_MODEL takes effect only when the arguments replace CMD's --model.
#
# Stopping: camserve drains on SIGTERM for up to limits.drain_timeout_ms (10 s
# by default). Docker's own default stop timeout is also 10 s, so give it
# more: `docker stop -t 30`, or stop_grace_period in compose.
#
# The CUDA variant is deploy/Dockerfile.cuda.

# Debian 12 only: install_deps.sh names bookworm's packages.
FROM debian:bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Parallel compile jobs; default: every core. LibTorch translation units take
# 1-2 GB of memory each, so lower this on a builder with little memory.
ARG CAMSERVE_BUILD_JOBS
WORKDIR /src
# Dependencies first: a source change then reuses this layer.
COPY scripts/install_deps.sh scripts/
RUN bash scripts/install_deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# Same script as CI (it re-runs install_deps.sh, a no-op by now). The tests are
# not built: CI runs them; the image only needs the server and the client.
RUN --mount=type=cache,target=/ccache,id=camserve-ccache \
    CCACHE_DIR=/ccache bash scripts/build.sh -DCAMSERVE_BUILD_TESTS=OFF

FROM debian:bookworm-slim AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY scripts/install_deps.sh /tmp/install_deps.sh
RUN bash /tmp/install_deps.sh --runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/install_deps.sh \
    && groupadd --system --gid 10001 camserve \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/camserve \
       --no-create-home --shell /usr/sbin/nologin camserve \
    && mkdir -p /var/lib/camserve/cache \
    && chown -R 10001:10001 /var/lib/camserve
COPY --from=build /src/build/server/camserve /src/build/client/cli/camserve-client /opt/camserve/bin/
# The sidecar digits_cnn.yaml carries the model's input size, normalisation,
# labels and default layer; without it the model would load with ImageNet
# defaults and fail on its 32x32 input.
COPY --from=build /src/build/models/digits_cnn.pt /src/build/models/digits_cnn.yaml /opt/camserve/models/
COPY config/camserve.yaml /etc/camserve/camserve.yaml
ENV PATH=/opt/camserve/bin:${PATH}

USER 10001:10001
WORKDIR /var/lib/camserve
# The heatmap cache (RocksDB). One directory per process: RocksDB locks it.
VOLUME ["/var/lib/camserve/cache"]
# 50051: gRPC (camserve.v1.Explainer, grpc.health.v1.Health, reflection).
# Off loopback camserve serves only TLS (CAMSERVE_TLS_CERT_FILE,
# CAMSERVE_TLS_KEY_FILE) unless CAMSERVE_TLS_ALLOW_PLAINTEXT=true says a
# TLS-terminating proxy fronts it: without either it exits 2 with a message
# (docs/security.md). 9464: Prometheus metrics, HTTP GET /metrics. 8080: the
# HTTP/JSON API, KServe v1 routes and the explorer page (docs/http.md), with
# the same TLS and tokens as gRPC.
EXPOSE 50051 9464 8080
# grpc.health.v1 over loopback (no token needed); exits non-zero unless
# SERVING. With TLS, set CAMSERVE_CLIENT_TLS_CA_FILE (and, for mutual TLS,
# CAMSERVE_CLIENT_TLS_CERT_FILE / _KEY_FILE) for it, as deploy/docker-compose.yml does.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/camserve/bin/camserve-client", "--addr", "127.0.0.1:50051", "--health", "--deadline-ms", "3000"]
ENTRYPOINT ["/opt/camserve/bin/camserve", \
            "--listen", "0.0.0.0:50051", \
            "--metrics-listen", "0.0.0.0:9464", \
            "--http-listen", "0.0.0.0:8080", \
            "--cache-dir", "/var/lib/camserve/cache"]
CMD ["--model", "/opt/camserve/models/digits_cnn.pt"]
