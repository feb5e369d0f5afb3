package csvimport_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/ingest/csvimport/cli"
)

func TestCLIImport(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	dir := t.TempDir()
	file := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(file, []byte(usersCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "errors.csv")
	var stdout, stderr bytes.Buffer
	code := cli.RunCLI(context.Background(), []string{"import",
		"--file", file, "--id-column", "userId", "--map", "Newsletter=emailOptin", "--mode", "merge",
		"--tag", "spring-promo", "--server", h.srv.URL, "--api-key", h.key, "--job-id", "cli1",
		"--errors-out", report, "--progress-interval", "1ns",
	}, &stdout, &stderr)
	if code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
	}
	out := stdout.String()
	if !strings.Contains(out, "import cli1 completed: 9 rows (4 new, 1 updated, 3 failed, 1 empty)") {
		t.Fatalf("summary: %s", out)
	}
	// Not a terminal: plain progress lines, no bar escape codes.
	if !strings.Contains(stderr.String(), "progress: ") || strings.Contains(stderr.String(), "\r") {
		t.Errorf("plain progress expected on a non-terminal: %q", stderr.String())
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != csvimport.ReportHeader || !strings.HasPrefix(lines[1], "3,invalidDataType,Email,") {
		t.Fatalf("report: %s", b)
	}
	evs := h.events(5)
	for _, e := range evs {
		tags, _ := e.Traits["tags"].([]any)
		found := false
		for _, tg := range tags {
			found = found || tg == "spring-promo"
		}
		if !found {
			t.Errorf("event without the CLI tag: %v", e.Traits)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	file := filepath.Join(t.TempDir(), "u.csv")
	_ = os.WriteFile(file, []byte("a,b\n1,2\n"), 0o600)
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := cli.RunCLI(context.Background(), args, &stdout, &stderr)
		return code, stderr.String()
	}
	if code, _ := run("--server", h.srv.URL, "--api-key", h.key); code != cli.ExitUsage {
		t.Errorf("no --file: exit %d", code)
	}
	if code, _ := run("--file", file, "--mode", "upsert", "--api-key", "k"); code != cli.ExitUsage {
		t.Errorf("bad mode: exit %d", code)
	}
	t.Setenv("USER360_API_KEY", "")
	if code, _ := run("--file", file, "--server", h.srv.URL); code != cli.ExitUsage {
		t.Errorf("no key: exit %d", code)
	}
	code, msg := run("--file", file, "--server", h.srv.URL, "--api-key", h.key, "--id-column", "ref")
	if code != cli.ExitFailed || !strings.Contains(msg, "invalidHeader") || !strings.Contains(msg, "idColumn") {
		t.Errorf("refused import: exit %d %q", code, msg)
	}
	// A large file refused on its header: the server answers before reading
	// the body; the client must report the answer, not a broken pipe.
	big := filepath.Join(t.TempDir(), "big.csv")
	f, _ := os.Create(big)
	_, _ = f.WriteString("a,b\n" + strings.Repeat("1,2\n", 4<<20))
	_ = f.Close()
	code, msg = run("--file", big, "--server", h.srv.URL, "--api-key", h.key, "--id-column", "ref")
	if code != cli.ExitFailed || !strings.Contains(msg, "invalidHeader") {
		t.Errorf("large refused import: exit %d %q", code, msg)
	}
	t.Setenv("USER360_SERVER", h.srv.URL)
	t.Setenv("USER360_API_KEY", h.key)
	if code, msg := run("--file", file); code != cli.ExitOK {
		t.Errorf("env server and key: exit %d %q", code, msg)
	}
	if code, _ := run("--file", filepath.Join(t.TempDir(), "missing.csv")); code != cli.ExitFailed {
		t.Errorf("missing file: exit %d", code)
	}
}
