# The tape binary for compose.yaml and clusters.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /tape ./cmd/tape

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /tape /tape
EXPOSE 8080
ENTRYPOINT ["/tape"]
