package csvimport_test

import (
	"encoding/csv"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

// usersCSV has a BOM, CRLF line ends, a quoted field with a newline, an
// empty row, a row with too many fields, a malformed row, a row with
// nothing importable and a duplicate id.
const usersCSV = "\xEF\xBB\xBF" +
	"userId,Email,Phone Number,loyalty points,Tags,Newsletter,Favourite Color\r\n" + // 1
	"u1,ada@example.com,+33 6 12 34 56 78,42,vip;beta,yes,blue\r\n" + //               2
	"u2,not-an-email,,7,,no,\r\n" + //                                                  3
	",bob@example.com,06 12 34 56 79,,,,\r\n" + //                                     4 (generated id, FR region)
	"u3,\"carol@example.com\",,abc,,,\"multi\r\nline\"\r\n" + //                          5-6
	",,,,,,\r\n" + //                                                                   7 empty
	"u4,x@example.com,,1,,,,extra\r\n" + //                                             8 too many fields
	"u5,\"bad\"quote,,,,,\r\n" + //                                                     9 malformed
	",,,,,maybe,\r\n" + //                                                              10 nothing valid, no id
	"u1,,,,,,green\r\n" //                                                              11 duplicate id

func TestImportEndToEnd(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	fields := [][2]string{{"jobId", "job1"}, {"idColumn", "userId"}, {"mode", "merge"}, {"tags", "spring, promo"}, {"map", "Newsletter=emailOptin"}}
	code, body := h.upload(usersCSV, fields...)
	if code != 202 {
		t.Fatalf("POST /v1/imports: %d %s", code, body)
	}
	st := decodeStatus(t, body)
	wantCounts := csvimport.Counts{Total: 9, New: 4, Updated: 1, Failed: 3, Empty: 1}
	if st.ID != "job1" || st.Status != csvimport.StatusCompleted || st.Counts != wantCounts || st.Progress != 1 {
		t.Fatalf("final status %+v", st)
	}

	// Any instance answers the status from Redis.
	code, body = h.get("/v1/imports/job1")
	if code != 200 {
		t.Fatalf("GET status: %d %s", code, body)
	}
	if got := decodeStatus(t, body); got.Counts != wantCounts || got.Status != csvimport.StatusCompleted || got.ErrorLines != 6 {
		t.Fatalf("GET status %+v", got)
	}

	// The events topic, line by line.
	evs := h.events(5)
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	byUser := map[string][]schemas.Event{}
	var generated string
	for _, e := range evs {
		if e.Type != schemas.TypeIdentify || !strings.HasPrefix(e.MessageID, "imp_") {
			t.Errorf("event %+v", e)
		}
		u360, _ := e.Context["user360"].(map[string]any)
		if u360["mode"] != "merge" || u360["importId"] != "job1" {
			t.Errorf("context %v", e.Context)
		}
		if strings.HasPrefix(e.UserID, "csv_") {
			generated = e.UserID
		}
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	tags := []any{"spring", "promo", "import:job1"}
	want := map[string][]map[string]any{
		"u1": {
			{"email": "ada@example.com", "phone": "+33612345678", "loyaltyPoints": 42.0, "tags": []any{"vip", "beta", "spring", "promo", "import:job1"},
				"emailOptin": true, "Favourite Color": "blue"},
			{"Favourite Color": "green", "tags": tags},
		},
		"u2":      {{"loyaltyPoints": 7.0, "emailOptin": false, "tags": tags}},
		"u3":      {{"email": "carol@example.com", "Favourite Color": "multi\nline", "tags": tags}},
		generated: {{"email": "bob@example.com", "phone": "+33612345679", "tags": tags}},
	}
	for user, traits := range want {
		got := byUser[user]
		if len(got) != len(traits) {
			t.Errorf("user %q: %d events, want %d", user, len(got), len(traits))
			continue
		}
		// Duplicate ids apply in row order: one partition per key keeps it.
		for i := range traits {
			if !reflect.DeepEqual(got[i].Traits, traits[i]) {
				t.Errorf("user %q event %d traits\n got %v\nwant %v", user, i, got[i].Traits, traits[i])
			}
		}
	}

	// The dead-letter topic has one record per dropped value or row.
	dead := testenv.ReadAll(t, h.brokers, h.topics.DeadLetter, 6, 10*time.Second)
	if len(dead) != 6 {
		t.Fatalf("%d dead letters, want 6", len(dead))
	}
	for _, r := range dead {
		var d schemas.DeadLetter
		if err := json.Unmarshal(r.Value, &d); err != nil || d.Stage != "import" || d.Tenant != h.tenant || d.Reason == "" || d.Index == nil {
			t.Errorf("dead letter %s", r.Value)
		}
	}

	// The error report, line by line.
	code, body = h.get("/v1/imports/job1/errors")
	if code != 200 {
		t.Fatalf("GET errors: %d %s", code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("error report is not CSV: %v\n%s", err, body)
	}
	wantRows := [][]string{
		{"line", "code", "column", "message", "row"},
		{"3", "invalidDataType", "Email", "", "u2,not-an-email,,7,,no,"},
		{"5", "invalidDataType", "loyalty points", "", "u3,carol@example.com,,abc,,,\"multi\nline\""},
		{"8", "invalidRow", "", "", "u4,x@example.com,,1,,,,extra"},
		{"9", "malformedRow", "", "", ""},
		{"10", "invalidDataType", "Newsletter", "", ",,,,,maybe,"},
		{"10", "propertiesRequired", "", "", ",,,,,maybe,"},
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("error report has %d lines, want %d:\n%s", len(rows), len(wantRows), body)
	}
	for i, w := range wantRows {
		got := rows[i]
		if i > 0 {
			if got[3] == "" {
				t.Errorf("line %d has no message", i+1)
			}
			got = append([]string(nil), got...)
			got[3] = ""
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("report line %d\n got %q\nwant %q", i+1, got, w)
		}
	}
}

func messageIDs(evs []schemas.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.MessageID
	}
	sort.Strings(ids)
	return ids
}

func TestReimportIsIdempotent(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	const file = "id,email\n1,a@example.com\n,b@example.com\n"
	for _, job := range []string{"first", "second"} {
		if code, body := h.upload(file, [2]string{"jobId", job}, [2]string{"tags", "x"}); code != 202 {
			t.Fatalf("%s: %d %s", job, code, body)
		}
	}
	evs := h.events(4)
	if len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	ids := messageIDs(evs)
	if ids[0] != ids[1] || ids[2] != ids[3] || ids[0] == ids[2] {
		t.Fatalf("re-import must repeat the same message ids: %v", ids)
	}
	users := map[string]int{}
	for _, e := range evs {
		users[e.UserID]++
	}
	if len(users) != 2 {
		t.Fatalf("generated ids differ between imports: %v", users)
	}
	// Another mode is another change: new ids.
	if code, body := h.upload(file, [2]string{"jobId", "third"}, [2]string{"mode", "replace"}, [2]string{"tags", "x"}); code != 202 {
		t.Fatalf("replace: %d %s", code, body)
	}
	evs = h.events(6)
	n := 0
	for _, e := range evs {
		if e.Context["user360"].(map[string]any)["mode"] == "replace" {
			n++
			for _, id := range ids {
				if e.MessageID == id {
					t.Fatal("replace import reused a merge message id")
				}
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d replace events, want 2", n)
	}
}

func TestImportRequestErrors(t *testing.T) {
	h := newHarness(t, false, csvimport.DefaultConfig())
	type errBody struct {
		Code  string            `json:"code"`
		Field string            `json:"field"`
		Job   *csvimport.Status `json:"job"`
	}
	check := func(name string, code int, body []byte, wantCode int, wantErr, wantField string) *errBody {
		t.Helper()
		var e errBody
		_ = json.Unmarshal(body, &e)
		if code != wantCode || e.Code != wantErr || e.Field != wantField {
			t.Errorf("%s: %d %s, want %d %s field %q", name, code, body, wantCode, wantErr, wantField)
		}
		return &e
	}
	code, body := h.upload("id\n1\n", [2]string{"mode", "upsert"})
	check("bad mode", code, body, 400, "invalidOptions", "mode")
	code, body = h.upload("a,b\n1,2\n", [2]string{"jobId", "hdr"}, [2]string{"idColumn", "ref"})
	e := check("missing id column", code, body, 422, "invalidHeader", "idColumn")
	if e.Job == nil || e.Job.Status != csvimport.StatusFailed {
		t.Errorf("header error: job %+v", e.Job)
	}
	if code, body = h.get("/v1/imports/hdr"); code != 200 || decodeStatus(t, body).Status != csvimport.StatusFailed {
		t.Errorf("failed job status: %d %s", code, body)
	}
	code, body = h.upload("", [2]string{"jobId", "empty"})
	check("empty file", code, body, 422, "invalidHeader", "file")
	code, body = h.upload("id\n1\n", [2]string{"jobId", "hdr"})
	check("job id reused", code, body, 409, "jobExists", "jobId")
	code, body = h.upload("cid,other\nu1,zzz\n", [2]string{"idColumn", "cid"}, [2]string{"map", "other=userId"})
	check("map to userId besides idColumn", code, body, 422, "invalidHeader", "map")
	code, body = h.upload("id\n1\n", [2]string{"map", "nonsense"})
	check("bad map", code, body, 400, "invalidOptions", "map")
	if code, _ := h.get("/v1/imports/nope"); code != 404 {
		t.Errorf("unknown job: %d", code)
	}
	if code, _ := h.get("/v1/imports/nope/errors"); code != 404 {
		t.Errorf("unknown job errors: %d", code)
	}
	h.key = "wrong"
	if code, _ := h.get("/v1/imports/hdr"); code != 401 {
		t.Errorf("wrong key: %d", code)
	}
}

func TestStrictSchemaImport(t *testing.T) {
	h := newHarness(t, true, csvimport.DefaultConfig())
	code, body := h.upload("id,email,Favourite Color\n1,a@example.com,blue\n", [2]string{"jobId", "s1"})
	if code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	evs := h.events(1)
	if len(evs) != 1 || evs[0].Traits["Favourite Color"] != nil || evs[0].Traits["email"] != "a@example.com" {
		t.Fatalf("strict import events %+v", evs)
	}
	code, body = h.get("/v1/imports/s1/errors")
	if code != 200 || !strings.Contains(string(body), "1,invalidProperty,Favourite Color,") {
		t.Fatalf("strict: unmapped column not reported: %d %s", code, body)
	}
}

// user360 dev runs on miniredis: the whole import must work there too.
func TestImportOnMiniRedis(t *testing.T) {
	cfg := csvimport.DefaultConfig()
	cfg.BatchSize = 3
	cfg.MaxErrorLines = 4
	h := newHarnessOn(t, false, cfg, testenv.MiniRedis(t))
	code, body := h.upload(usersCSV, [2]string{"jobId", "mini"}, [2]string{"map", "Newsletter=emailOptin"})
	if code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	st := decodeStatus(t, body)
	if st.Counts != (csvimport.Counts{Total: 9, New: 4, Updated: 1, Failed: 3, Empty: 1}) || st.ErrorLines != 4 || st.ErrorsDropped != 2 {
		t.Fatalf("status %+v", st)
	}
	code, body = h.get("/v1/imports/mini")
	if got := decodeStatus(t, body); code != 200 || got.Counts != st.Counts || got.ErrorLines != 4 || got.ErrorsDropped != 2 {
		t.Fatalf("GET %d %+v", code, got)
	}
	code, body = h.get("/v1/imports/mini/errors")
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if code != 200 || err != nil || len(rows) != 1+4 {
		t.Fatalf("report (%d lines, %v): %s", len(rows), err, body)
	}
	if evs := h.events(5); len(evs) != 5 {
		t.Fatalf("%d events", len(evs))
	}
}
