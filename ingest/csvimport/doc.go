// Package csvimport imports users from a CSV file: the HTTP API
// (POST /v1/imports, GET /v1/imports/{id}, GET /v1/imports/{id}/errors),
// the streaming importer behind it, and the command-line client (package
// cli, `user360 import`).
//
// An import streams end to end: the multipart upload is parsed as it
// arrives (encoding/csv, UTF-8 BOM and CRLF handled, quoted fields with
// commas and newlines), each row is mapped to properties
// (ingest/propschema: coercion and validation), turned into an identify
// message with a deterministic message id, and published in batches to the
// events topic through ingest.Publisher. Memory stays bounded whatever the
// file size. The request is answered (202) when the whole file was read and
// every row was acknowledged by the log; while it runs, GET /v1/imports/{id}
// (any instance) shows the progress kept in Redis.
//
// See docs/design/import.md (Redis keys, invariants, concurrency) and
// docs/API-import.md.
package csvimport
