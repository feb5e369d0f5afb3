package csvimport

import (
	"strconv"
	"unicode/utf8"
)

// Size limits of an import. They bound the memory of a job and the size of
// what it writes (events, dead letters, report lines) whatever the file.
const (
	// MaxMessageBytes caps the encoded identify message of one row: the
	// gateway's per-message limit (ingest.Config.MaxMessageBytes, 32 KiB by
	// default). A row whose message would be larger fails (rowTooLarge).
	MaxMessageBytes = 32 << 10
	// MaxRecordBytes caps one CSV record (a row, quoted line breaks
	// included) as read from the file. A longer row on one line fails
	// (rowTooLarge) and the import goes on at the next line; a quoted field
	// that spans lines and is not closed within it (an unbalanced quote,
	// most likely) fails the job, naming the line where the row starts.
	MaxRecordBytes = 1 << 20
	// maxExcerptBytes caps the copy of a row kept in a report line or a
	// dead letter, and each message and header quoted in them.
	maxExcerptBytes = 1 << 10
)

// truncatedMark ends a text cut at maxExcerptBytes.
const truncatedMark = "…[truncated]"

// excerpt returns s cut to at most n bytes (at a rune boundary) followed by
// truncatedMark, or s itself when it fits.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMark
}

// tooLargeMessage explains a rowTooLarge failure.
func tooLargeMessage(what string, size, limit int) string {
	return what + " has " + strconv.Itoa(size) + " bytes, the limit is " + strconv.Itoa(limit) + ": the row was not imported"
}
