FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /user360 ./cmd/user360

FROM gcr.io/distroless/static-debian12
COPY --from=build /user360 /user360
EXPOSE 8360
ENTRYPOINT ["/user360"]
