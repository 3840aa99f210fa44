# Jocko's container image: the static jocko binary alone in a scratch image,
# running as an unprivileged user with its data in a volume.
#
#   docker build -t jocko .                  (or: podman build -t jocko .)
#   docker run -p 9092:9092 -v jocko-data:/var/lib/jocko jocko
#
# Settings come from JOCKO_ variables (-e JOCKO_LOG_RETENTION_MS=3600000),
# flags after the image name (jocko ... --node-id 2), or a Kafka
# server.properties mounted into the container (--config /etc/jocko/server.properties).
# examples/compose/compose.yaml runs a three-broker cluster.
#
# Without a registry (no golang image to build in), build the binary on the
# host and let the final stage take it from a directory instead of the
# build stage (cmd/jocko/image_test.go does this):
#
#   mkdir -p ctx/rootfs/var/lib/jocko
#   CGO_ENABLED=0 go build -trimpath -o ctx/rootfs/jocko ./cmd/jocko
#   podman build --build-arg ROOTFS=prebuilt -f Dockerfile ctx

# ROOTFS names the stage whose /rootfs holds the binary and the empty data
# directory: build (compile here) or prebuilt (taken from the build context).
ARG ROOTFS=build
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN mkdir -p /rootfs/var/lib/jocko \
 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /rootfs/jocko ./cmd/jocko

FROM scratch AS prebuilt
COPY rootfs/ /rootfs/

FROM ${ROOTFS} AS rootfs

FROM scratch AS image
COPY --from=rootfs /rootfs/jocko /jocko
# scratch has no writable directory: the data directory is made in the
# build stage and handed to the user here, so a new volume starts owned by it.
COPY --from=rootfs --chown=65532:65532 /rootfs/var/lib/jocko /var/lib/jocko
USER 65532:65532
ENV JOCKO_DATA_DIR=/var/lib/jocko \
    JOCKO_LISTEN=0.0.0.0:9092 \
    JOCKO_ADVERTISE=localhost:9092
VOLUME ["/var/lib/jocko"]
# Kafka, metadata Raft (Kafka + 1), gossip (Kafka + 2), metrics (Kafka + 3).
EXPOSE 9092 9093 9094 9094/udp 9095
ENTRYPOINT ["/jocko", "broker"]
