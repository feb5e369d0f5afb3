package segmenter_test

import (
	"fmt"

	"github.com/user360/user360/segmenter"
)

// The messageId of a segment change is derived from the tenant, segment,
// profile and the transition's sequence number, so a republished change
// keeps its id and consumers can deduplicate.
func ExampleMessageID() {
	first := segmenter.MessageID("acme", "seg-1", "profile-9", 1)
	again := segmenter.MessageID("acme", "seg-1", "profile-9", 1)
	exit := segmenter.MessageID("acme", "seg-1", "profile-9", 2)
	fmt.Println(first == again, first == exit, len(first))
	// Output: true false 36
}
