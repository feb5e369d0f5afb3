package activation

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

var errFakeNotFound = errors.New("fake: segment not found")

// fakeMembers pages through n generated members of segment "seg".
type fakeMembers struct {
	n       int
	failAt  int // ScanMembers fails from this offset on (0 = never)
	maxPage int // largest page asked for
}

func (f *fakeMembers) ScanMembers(_ context.Context, _, seg, cursor string, limit int) ([]string, string, error) {
	if seg != "seg" {
		return nil, "", fmt.Errorf("scan %s: %w", seg, errFakeNotFound)
	}
	off := 0
	if cursor != "" {
		off, _ = strconv.Atoi(cursor)
	}
	if f.failAt > 0 && off >= f.failAt {
		return nil, "", errors.New("fake: redis down")
	}
	f.maxPage = max(f.maxPage, limit)
	end := min(off+limit, f.n)
	ids := make([]string, 0, end-off)
	for i := off; i < end; i++ {
		ids = append(ids, "p"+strconv.Itoa(i))
	}
	next := ""
	if end < f.n {
		next = strconv.Itoa(end)
	}
	return ids, next, nil
}

// fakeProfiles builds profiles on the fly; every 7th has no phone.
type fakeProfiles struct{}

func (fakeProfiles) GetProfiles(_ context.Context, tenant string, ids []string) ([]schemas.Profile, error) {
	out := make([]schemas.Profile, len(ids))
	for i, id := range ids {
		n, _ := strconv.Atoi(id[1:])
		tr := map[string]any{"email": id + "@example.com", "score": float64(n) / 2, "vip": n%2 == 0, "name": "A, \"quoted\" name"}
		if n%7 != 0 {
			tr["phone"] = "+9198" + strconv.Itoa(10000000+n)
		}
		out[i] = schemas.Profile{ID: id, Tenant: tenant, UserID: "u" + strconv.Itoa(n), Traits: tr}
	}
	return out, nil
}

func exportEnv(t *testing.T, m *fakeMembers) *env {
	return newEnv(t, testenv.MiniRedis(t), func(c *Config, d *Deps) {
		c.ExportPageSize = 100
		d.Members, d.Profiles, d.SegmentNotFound = m, fakeProfiles{}, errFakeNotFound
	})
}

func (e *env) get(path string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", e.api.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	return http.DefaultClient.Do(req)
}

func TestExportCSVStreamsEveryMemberWithTheChosenTraits(t *testing.T) {
	m := &fakeMembers{n: 1234}
	e := exportEnv(t, m)
	resp, err := e.get("/v1/segments/seg/export?format=csv&traits=email,phone,score,name")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1235 || fmt.Sprint(rows[0]) != "[profile_id user_id email phone score name]" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if fmt.Sprint(rows[1]) != `[p0 u0 p0@example.com  0 A, "quoted" name]` || rows[4][3] != "+919810000003" || rows[4][4] != "1.5" {
		t.Fatalf("rows %q %q", rows[1], rows[4])
	}
	if m.maxPage != 100 {
		t.Fatalf("page size %d", m.maxPage)
	}
}

func TestExportNDJSON(t *testing.T) {
	e := exportEnv(t, &fakeMembers{n: 250})
	resp, err := e.get("/v1/segments/seg/export?format=ndjson&traits=email,vip")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		var r ExportRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.ProfileID != "p"+strconv.Itoa(n) || len(r.Traits) != 2 || r.Traits["vip"] != (n%2 == 0) {
			t.Fatalf("row %d: %+v", n, r)
		}
		n++
	}
	if n != 250 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d rows, %s", n, resp.Header.Get("Content-Type"))
	}
}

func TestExportErrors(t *testing.T) {
	e := exportEnv(t, &fakeMembers{n: 10})
	for path, want := range map[string]int{
		"/v1/segments/nope/export":              404,
		"/v1/segments/seg/export?format=xlsx":   400,
		"/v1/segments/seg/export?format=ndjson": 200,
	} {
		resp, err := e.get(path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// A failure mid-stream breaks the transfer instead of ending it as if
	// the list were complete.
	e2 := exportEnv(t, &fakeMembers{n: 1000, failAt: 300})
	resp, err := e2.get("/v1/segments/seg/export?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Fatalf("truncated export looked complete: %d %v", resp.StatusCode, err)
	}
}

func TestExportWithoutSourcesIsNotImplemented(t *testing.T) {
	e := newEnv(t, testenv.MiniRedis(t))
	resp, err := e.get("/v1/segments/seg/export")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("%d", resp.StatusCode)
	}
}

// BenchmarkExport measures export rows/s through the HTTP handler with
// in-memory sources (1000-member pages).
func BenchmarkExport(b *testing.B) {
	for _, format := range []string{"csv", "ndjson"} {
		b.Run(format, func(b *testing.B) {
			const rows = 100_000
			m := &fakeMembers{n: rows}
			e := newEnv(b, testenv.MiniRedis(b), func(c *Config, d *Deps) {
				d.Members, d.Profiles = m, fakeProfiles{}
			})
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				resp, err := e.get("/v1/segments/seg/export?format=" + format + "&traits=email,phone,score")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkExportMillion exports one million members once per iteration and
// reports the peak heap in use while it runs (sampled every 5 ms): it stays
// flat however many members a segment has.
func BenchmarkExportMillion(b *testing.B) {
	const rows = 1_000_000
	e := newEnv(b, testenv.MiniRedis(b), func(c *Config, d *Deps) {
		d.Members, d.Profiles = &fakeMembers{n: rows}, fakeProfiles{}
	})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	var n int64
	for range b.N {
		resp, err := e.get("/v1/segments/seg/export?format=csv&traits=email,phone,score")
		if err != nil {
			b.Fatal(err)
		}
		n, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n)/(1<<20), "MB-streamed")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MB")
}

// A segment without members exports the CSV header row (and an empty
// NDJSON body).
func TestExportOfAnEmptySegmentHasTheHeader(t *testing.T) {
	e := exportEnv(t, &fakeMembers{n: 0})
	for format, want := range map[string]string{"csv": "profile_id,user_id,email\n", "ndjson": ""} {
		resp, err := e.get("/v1/segments/seg/export?format=" + format + "&traits=email")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("%s: %d %q %v", format, resp.StatusCode, b, err)
		}
	}
}
