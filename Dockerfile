# syntax=docker/dockerfile:1
# The tape binary for compose.yaml and Kubernetes: built static (no cgo)
# in the Go image, run from distroless/static (no shell, no libc, CA
# certificates and tzdata only) as a numeric non-root user, so that
# Kubernetes' runAsNonRoot can verify it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# No .git in the build context: tape version reports the module version.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /tape ./cmd/tape

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /tape /tape
USER 65532:65532
EXPOSE 8080 9100
ENTRYPOINT ["/tape"]
