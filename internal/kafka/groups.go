package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DeleteGroups removes consumer groups (their committed offsets), so that
// their next members start from the reset offset: the start of the log for
// the pipeline's consumers. Groups that do not exist are ignored.
func DeleteGroups(ctx context.Context, cl *kgo.Client, groups ...string) error {
	resp, err := kadm.NewClient(cl).DeleteGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("kafka: delete groups: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
			return fmt.Errorf("kafka: delete group %s: %w", r.Group, r.Err)
		}
	}
	return nil
}
