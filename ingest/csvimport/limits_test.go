package csvimport_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

func TestMaxMessageBytesIsTheGateways(t *testing.T) {
	if csvimport.MaxMessageBytes != ingest.DefaultConfig().MaxMessageBytes {
		t.Fatalf("csvimport.MaxMessageBytes %d, gateway %d", csvimport.MaxMessageBytes, ingest.DefaultConfig().MaxMessageBytes)
	}
}

// wideRow is a row of the wide file: an id and 199 cells of fill.
func wideRow(id, fill string) string {
	return id + strings.Repeat(","+fill, 199) + "\n"
}

// One oversized row fails alone: a 5 MB value (over MaxRecordBytes), a
// row whose message is over MaxMessageBytes; a row with 199 over-long
// cells is imported without them, and its 199 report lines and dead
// letters carry a bounded excerpt of the row.
func TestOversizedRowsFailAlone(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	var b strings.Builder
	b.WriteString("userId")
	for i := range 199 {
		fmt.Fprintf(&b, ",c%d", i)
	}
	b.WriteString("\n")
	b.WriteString(wideRow("u1", "a"))                                                   // 2
	b.WriteString("u2," + strings.Repeat("x", 5<<20) + strings.Repeat(",", 198) + "\n") // 3 over MaxRecordBytes
	b.WriteString(wideRow("u3", strings.Repeat("m", 200)))                              // 4 message over 32 KiB
	b.WriteString(wideRow("u4", strings.Repeat("v", 300)))                              // 5 199 values too long
	b.WriteString(wideRow("u5", "b"))                                                   // 6
	code, body := h.upload(b.String(), [2]string{"jobId", "big"})
	if code != 202 {
		t.Fatalf("%d %.1000s", code, body)
	}
	st := decodeStatus(t, body)
	if st.Counts != (csvimport.Counts{Total: 5, New: 3, Failed: 2}) || st.ErrorLines != 201 {
		t.Fatalf("status %+v", st)
	}
	evs := h.events(3)
	users := make([]string, 0, len(evs))
	for _, e := range evs {
		users = append(users, e.UserID)
	}
	sort.Strings(users) // (one user a partition: the log's order across them is not the file's)
	if strings.Join(users, ",") != "u1,u4,u5" {
		t.Fatalf("events of %v", users)
	}
	_, report := h.get("/v1/imports/big/errors")
	rows, err := csv.NewReader(strings.NewReader(string(report))).ReadAll()
	if err != nil || len(rows) != 202 {
		t.Fatalf("report: %d lines, %v", len(rows), err)
	}
	if rows[1][0] != "3" || rows[1][1] != csvimport.CodeRowTooLarge || rows[2][0] != "4" || rows[2][1] != csvimport.CodeRowTooLarge {
		t.Fatalf("report starts %q %q", rows[1], rows[2])
	}
	for _, r := range rows {
		if n := len(strings.Join(r, ",")); n > 2200 {
			t.Fatalf("report line of %d bytes: %.200q", n, r)
		}
	}
	checkDeadLetters(t, h, 201)
}

func checkDeadLetters(t *testing.T, h *harness, want int) {
	t.Helper()
	dead := testenv.ReadAll(t, h.brokers, h.topics.DeadLetter, want, 10*time.Second)
	if len(dead) != want {
		t.Fatalf("%d dead letters, want %d", len(dead), want)
	}
	for _, r := range dead {
		var d schemas.DeadLetter
		if err := json.Unmarshal(r.Value, &d); err != nil || len(r.Value) > 3000 {
			t.Fatalf("dead letter of %d bytes: %.300s", len(r.Value), r.Value)
		}
		if d.Original != nil && !strings.Contains(string(d.Original), "truncated") {
			t.Fatalf("original not marked truncated: %.300s", d.Original)
		}
	}
}

// An unbalanced quote stops the import at its line; rows before it are
// imported.
func TestUnclosedQuoteStopsTheImport(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	var b strings.Builder
	b.WriteString("userId,note\nu1,a\nu0,\"oops\n")
	for i := range 100_000 {
		fmt.Fprintf(&b, "u%d,hello world\n", i+2)
	}
	code, body := h.upload(b.String(), [2]string{"jobId", "quote"})
	var e struct {
		Code, Field, Error string
		Job                *csvimport.Status
	}
	_ = json.Unmarshal(body, &e)
	if code != 422 || e.Code != "invalidFile" || e.Field != "file" || e.Job == nil || !strings.Contains(e.Error, "line 3:") {
		t.Fatalf("%d %.1000s", code, body)
	}
	if e.Job.Status != csvimport.StatusFailed || e.Job.Counts.Total != 1 || e.Job.LastLine != 2 {
		t.Fatalf("job %+v", e.Job)
	}
	if evs := h.events(1); len(evs) != 1 || evs[0].UserID != "u1" {
		t.Fatalf("events %+v", evs)
	}
	_, report := h.get("/v1/imports/quote/errors")
	if !strings.Contains(string(report), "\n3,importFailed,,") {
		t.Fatalf("report %s", report)
	}
}

// Ids that are not valid UTF-8 are refused, not all turned into U+FFFD.
func TestInvalidUTF8IDsAreRefused(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	code, body := h.upload("userId,name\n\xff,A\n\xfe,B\nu1,C\n", [2]string{"jobId", "utf8"})
	if code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if st := decodeStatus(t, body); st.Counts != (csvimport.Counts{Total: 3, New: 1, Failed: 2}) {
		t.Fatalf("counts %+v", st.Counts)
	}
	_, report := h.get("/v1/imports/utf8/errors")
	if strings.Count(string(report), ","+csvimport.CodeInvalidID+",userId,") != 2 {
		t.Fatalf("report %s", report)
	}
}
