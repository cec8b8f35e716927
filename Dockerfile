# Build a static binary (pure-Go SQLite, no cgo), then run it as non-root
# on a distroless base with nothing else in it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mcloud ./cmd/mcloud \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mcloud /usr/local/bin/mcloud
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
# The embedded SQLite store lives in /data (mount a volume); set
# MCLOUD_DATABASE_URL=postgres://... to run several replicas.
ENV MCLOUD_DATABASE_URL=/data/mcloud.db
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/mcloud"]
CMD ["serve", "-c", "/etc/mcloud/mcloud.yaml", "--listen", ":8080"]
