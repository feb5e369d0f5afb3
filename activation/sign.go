package activation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Webhook request headers.
const (
	HeaderSignature  = "X-User360-Signature"
	HeaderTimestamp  = "X-User360-Timestamp"
	HeaderDeliveryID = "X-User360-Delivery-Id"
)

// ErrBadSignature is returned by Verify.
var ErrBadSignature = errors.New("activation: webhook signature does not verify")

// Sign returns the X-User360-Signature value of a body sent at unix time ts:
// "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook call as a receiver would: the signature header
// against the timestamp header and the body, and the timestamp within
// tolerance of now (0 skips the age check).
func Verify(secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if tolerance > 0 {
		d := now.Sub(time.Unix(ts, 0))
		if d > tolerance || d < -tolerance {
			return ErrBadSignature
		}
	}
	want := Sign(secret, ts, body)
	// Several signatures may be sent (secret rotation), comma-separated.
	for _, s := range strings.Split(signature, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
