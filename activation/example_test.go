package activation_test

import (
	"fmt"
	"time"

	"github.com/user360/user360/activation"
)

// A receiver verifies a webhook call with the destination's secret, the
// X-User360-Timestamp and X-User360-Signature headers and the raw body.
func ExampleVerify() {
	secret := "whsec_example"
	body := []byte(`{"type":"segment.entered","messageId":"sc-1","segmentId":"seg1","profileId":"p-01"}`)
	ts := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

	// What User360 sends:
	sig := activation.Sign(secret, ts.Unix(), body)
	fmt.Println(sig[:3])

	// What the receiver checks (reject calls older than 5 minutes):
	err := activation.Verify(secret, sig, fmt.Sprint(ts.Unix()), body, ts.Add(time.Minute), 5*time.Minute)
	fmt.Println(err)
	err = activation.Verify(secret, sig, fmt.Sprint(ts.Unix()), []byte(`{"tampered":true}`), ts, 5*time.Minute)
	fmt.Println(err)
	// Output:
	// v1=
	// <nil>
	// activation: webhook signature does not verify
}

func ExampleAudienceKey() {
	fmt.Println(activation.AudienceKey("Big Spenders (90 days)"))
	// Output: big_spenders_90_days
}
