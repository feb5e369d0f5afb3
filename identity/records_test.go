package identity

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// outputID must stay the name-based UUID it always was: consumers
// deduplicate redelivered records by it.
func TestOutputIDIsUUIDv5(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, c := range [][4]string{
		{"acme", "m-1", "profile.updated", ""},
		{"acme", "m-1", "user.deleted", "p0123456789abcdef"},
		{"", "", "", ""},
		{"t", long, "profile.merged", long},
	} {
		want := uuid.NewSHA1(recordNamespace, []byte(c[0]+"\x00"+c[1]+"\x00"+c[2]+"\x00"+c[3])).String()
		if got := outputID(c[0], c[1], c[2], c[3]); got != want {
			t.Errorf("outputID(%q…) = %s, want %s", c[1], got, want)
		}
	}
}

// versionToken is the first 8 bytes of sha1("<prev>|<mid>") in hex, as
// apply.lua computes it.
func TestVersionTokenLongInput(t *testing.T) {
	for _, c := range [][2]string{{"", "m-1"}, {"e5a9143bb511081f", "m-2"}, {"e5a9143bb511081f", strings.Repeat("m", 200)}} {
		h := sha1.Sum([]byte(c[0] + "|" + c[1]))
		if got, want := versionToken(c[0], c[1]), hex.EncodeToString(h[:])[:16]; got != want {
			t.Errorf("versionToken(%q, %q) = %s, want %s", c[0], c[1], got, want)
		}
	}
}
