package segmenter_test

import (
	"errors"
	"testing"

	"github.com/user360/user360/segmenter"
)

func TestConfigValidate(t *testing.T) {
	ok := segmenter.DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, change := range map[string]func(*segmenter.Config){
		"negative batch":                       func(c *segmenter.Config) { c.MaxPollRecords = -1 },
		"timer tick above 1s":                  func(c *segmenter.Config) { c.TimerTick = 2e9 },
		"write-behind that would lose changes": func(c *segmenter.Config) { c.WriteBehind = true },
	} {
		c := segmenter.DefaultConfig()
		change(&c)
		if err := c.Validate(); !errors.Is(err, segmenter.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := segmenter.DefaultConfig()
	c.WriteBehind, c.DiscardChanges = true, true
	if err := c.Validate(); err != nil {
		t.Errorf("write-behind with DiscardChanges: %v", err)
	}
}
