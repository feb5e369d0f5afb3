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
// (request body), decode.go (JSON envelope), rawjson.go (members of an
// object without decoding it), normalize.go (one message), fieldnames.go
// (keys and ids refused: case-folded field names, import marks in context,
// ids that are not UTF-8), timestamps.go (parsing and skew correction),
// traits.go (the property schema on identify traits), limiter.go (429),
// metrics.go, publisher.go (the door to the log, shared with the user API
// and imports).
package ingest
