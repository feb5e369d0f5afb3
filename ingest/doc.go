// Package ingest is the HTTP gateway of User360: the Segment Tracking API
// (/v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group, /v1/alias,
// /v1/batch, /v1/import) that existing tracking SDKs send to unchanged.
//
// A request is answered 2xx only after the broker acknowledged every record
// it produced (Publisher): valid messages to the events topic, invalid ones to
// the dead-letter topic with their reason. The flow of one request:
//
//	readBody (auth, gzip, size limits) → decodeRequest (JSON → raw messages)
//	→ normalize (per message: validate, messageId, receivedAt, clock skew,
//	batch context) → Publisher.Produce → response
//
// Files: config.go (Config), gateway.go (routes and handler), body.go
// (request body), decode.go (JSON envelope), normalize.go (one message),
// timestamps.go (parsing and skew correction), limiter.go (429), metrics.go,
// publisher.go (the door to the log, shared with the user API and imports).
package ingest
