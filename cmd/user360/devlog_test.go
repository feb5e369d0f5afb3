package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestDevLogDir: by default the broker's log goes to a new temporary
// directory that the cleanup removes; --data-dir is used as given and kept;
// --memory-log keeps the log in memory.
func TestDevLogDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir, remove := devLogDir(&devFlags{}, zerolog.Nop())
	if dir == "" || !strings.HasPrefix(filepath.Base(dir), "user360-dev-log-") {
		t.Fatalf("default log dir %q, want a new temporary directory", dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "segment"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the temporary log dir is still there after the cleanup: %v", err)
	}
	kept := t.TempDir()
	if dir, remove := devLogDir(&devFlags{dataDir: kept}, zerolog.Nop()); dir != kept {
		t.Fatalf("--data-dir gave %q, want %q", dir, kept)
	} else {
		remove()
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("--data-dir was removed: %v", err)
	}
	if dir, _ := devLogDir(&devFlags{memoryLog: true}, zerolog.Nop()); dir != "" {
		t.Fatalf("--memory-log gave %q, want the memory (\"\")", dir)
	}
}
