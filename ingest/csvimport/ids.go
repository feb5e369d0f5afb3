package csvimport

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// chainSalt seeds a file's content hash with the tenant, so generated ids
// of two tenants never meet.
func chainSalt(tenant string) string { return "user360/import/v1\x00" + tenant + "\x00" }

// generatedID is the user id of a row without one: derived from the file
// content up to this row and the line number (both in chain), so importing
// the same file again yields the same ids.
func generatedID(chain *[32]byte) string {
	return "csv_" + hex.EncodeToString(chain[:12])
}

// optionsSalt folds what changes the messages of a row besides the file
// content: mode, id column and mapping, and the requested tags. The import's
// own tag ("import:<id>") is left out so that a re-import of the same file
// with the same options produces the same message ids.
func optionsSalt(mode string, cols []Column, tags []string) []byte {
	var b strings.Builder
	b.WriteString(mode)
	b.WriteByte(0)
	for _, c := range cols {
		b.WriteString(c.Header)
		b.WriteByte(1)
		b.WriteString(c.Property)
		if c.ID {
			b.WriteString("\x02id")
		}
		b.WriteByte(0)
	}
	t := append([]string(nil), tags...)
	sort.Strings(t)
	b.WriteString(strings.Join(t, "\x00"))
	sum := sha256.Sum256([]byte(b.String()))
	return sum[:]
}

// messageID is the deterministic id of a row's identify message:
// sha256(chain ‖ options), i.e. of tenant + file content up to the row +
// line number + mode and mapping.
func messageID(chain *[32]byte, salt []byte) string {
	var buf [64]byte
	copy(buf[:32], chain[:])
	copy(buf[32:], salt)
	sum := sha256.Sum256(buf[:32+len(salt)])
	return "imp_" + hex.EncodeToString(sum[:16])
}
