package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Exit codes of RunCLI.
const (
	ExitOK     = 0 // the import completed (some rows may have failed: see the report)
	ExitFailed = 1 // the import failed or the server refused it
	ExitUsage  = 2 // bad flags
)

// RunCLI runs `user360 import` with the arguments after the subcommand
// name (a leading "import" is tolerated) and returns the exit code.
//
//	user360 import --file users.csv --id-column userId --map "Phone Number=phone" \
//	    --mode merge --tag spring-promo [--server URL] [--api-key KEY]
//
// The server and key default to USER360_SERVER and USER360_API_KEY.
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "import" {
		args = args[1:]
	}
	o, err := parseFlags(args, stderr, osGetenv)
	if err != nil {
		return ExitUsage
	}
	if o.jobID == "" {
		o.jobID = uuid.NewString()
	}
	f, err := os.Open(o.file)
	if err != nil {
		fmt.Fprintf(stderr, "import: %v\n", err)
		return ExitFailed
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fmt.Fprintf(stderr, "import: %v\n", err)
		return ExitFailed
	}
	size := fi.Size()
	hc := &http.Client{}
	start := time.Now()

	var sent atomic.Int64
	var rows atomic.Int64
	rep := newReporter(stderr, size, o.interval)
	pctx, stopProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		follow(pctx, hc, o, rep, size, &sent, &rows, start)
	}()

	res, err := upload(ctx, hc, o, f, size, &sent)
	stopProgress()
	<-progressDone
	if err != nil {
		fmt.Fprintf(stderr, "import: %v\n", err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "import: interrupted; rows already imported are kept, run the same command again to finish (they are not duplicated)\n")
		}
		return ExitFailed
	}
	if res.st == nil {
		e := res.errb
		fmt.Fprintf(stderr, "import failed (%d %s): %s", res.status, e.Code, e.Error)
		if e.Field != "" {
			fmt.Fprintf(stderr, " [field %s]", e.Field)
		}
		fmt.Fprintln(stderr)
		return ExitFailed
	}
	rep.update(size, size, res.st.Counts.Total, time.Since(start))
	rep.finish()
	st := res.st
	elapsed := time.Since(start)
	c := st.Counts
	fmt.Fprintf(stdout, "import %s %s: %d rows (%d new, %d updated, %d failed, %d empty) in %s, %s rows/s\n",
		st.ID, st.Status, c.Total, c.New, c.Updated, c.Failed, c.Empty, elapsed.Round(time.Millisecond), rate(c.Total, elapsed))
	for _, col := range st.Columns {
		if col.Skipped != "" && col.Header != "" {
			fmt.Fprintf(stdout, "column %q not imported: %s\n", col.Header, col.Skipped)
		}
	}
	if st.ErrorLines > 0 {
		fmt.Fprintf(stdout, "%d errors: GET %s/v1/imports/%s/errors\n", st.ErrorLines, o.server, st.ID)
		if o.errorsOut != "" {
			if err := downloadErrors(ctx, hc, o, o.errorsOut); err != nil {
				fmt.Fprintf(stderr, "import: cannot save the error report: %v\n", err)
			} else {
				fmt.Fprintf(stdout, "error report written to %s\n", o.errorsOut)
			}
		}
	}
	return ExitOK
}

// follow refreshes the progress display: bytes sent (the server reads the
// upload as it imports it, so this tracks the import) and the row count
// polled from GET /v1/imports/{id}.
func follow(ctx context.Context, hc *http.Client, o *options, rep reporter, size int64, sent, rows *atomic.Int64, start time.Time) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastPoll time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(lastPoll) >= time.Second {
			lastPoll = time.Now()
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if st := getStatus(pctx, hc, o); st != nil {
				rows.Store(st.Counts.Total)
			}
			cancel()
		}
		rep.update(sent.Load(), size, rows.Load(), time.Since(start))
	}
}
