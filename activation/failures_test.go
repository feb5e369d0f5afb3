package activation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/internal/testenv"
)

// failN parks and fails one job per id, all in one settle batch: they share
// one failed-at millisecond, as a settle batch stamps them.
func failN(t *testing.T, rdb redis.UniversalClient, k keys, at time.Time, ids ...string) {
	t.Helper()
	var parks, fails []scriptCall
	for i, id := range ids {
		j := &job{ID: id, Profile: "p" + strconv.Itoa(i) + id, Change: json.RawMessage(`{}`), EnqueuedAt: at.UnixMilli()}
		c, _ := enqueueCall(k, j, at)
		parks = append(parks, c)
		c, _ = settleCall(k, &outcome{mode: "fail", job: j, reason: "x"}, at)
		fails = append(fails, c)
	}
	for _, calls := range [][]scriptCall{parks, fails} {
		if _, err := runScripts(context.Background(), rdb, calls); err != nil {
			t.Fatal(err)
		}
	}
}

// Failures sharing a failed-at millisecond are all listed, exactly once,
// in order; a replayed (removed) cursor member does not lose its place.
func TestFailuresPagingIsExactWithinOneMillisecond(t *testing.T) {
	for _, b := range testenv.RedisBackends() {
		t.Run(b.Name, func(t *testing.T) {
			rdb := b.Client(t)
			ctx := context.Background()
			s := &Service{cfg: Config{Namespace: testenv.RedisNamespace(t, rdb)}, deps: Deps{Redis: rdb}}
			k := newKeys(s.cfg.Namespace, "t1", "d1")
			at := time.UnixMilli(1_800_000_000_000)
			var same []string
			for i := range 8 {
				same = append(same, fmt.Sprintf("m%d&x:d1", i))
			}
			failN(t, rdb, k, at, same...)
			failN(t, rdb, k, at.Add(-time.Second), "old1:d1", "old2:d1")
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				fs, next, err := s.Failures(ctx, "t1", "d1", cursor, 3)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range fs {
					got = append(got, f.DeliveryID)
				}
				if page == 0 { // the cursor's own member leaves (replay)
					rdb.ZRem(ctx, k.failz(), fs[len(fs)-1].DeliveryID)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			want := []string{"m7&x:d1", "m6&x:d1", "m5&x:d1", "m4&x:d1", "m3&x:d1", "m2&x:d1", "m1&x:d1", "m0&x:d1", "old2:d1", "old1:d1"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("paged %v\nwant  %v", got, want)
			}
			// A cursor of earlier versions (bare ms) resumes strictly older.
			fs, next, err := s.Failures(ctx, "t1", "d1", strconv.FormatInt(at.UnixMilli(), 10), 5)
			if err != nil || len(fs) != 2 || next != "" || fs[0].DeliveryID != "old2:d1" {
				t.Fatalf("legacy cursor: %v %d %q", err, len(fs), next)
			}
			for _, bad := range []string{"x", "-1", "12:", "12:!!", "a:bQ"} {
				if _, _, err := s.Failures(ctx, "t1", "d1", bad, 5); !errors.Is(err, ErrBadCursor) {
					t.Errorf("cursor %q: %v", bad, err)
				}
			}
		})
	}
}

func TestFailuresAPIRefusesBadCursorAndReplayNamesWrongTypes(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	id, _ := e.createDest(webhook("http://127.0.0.1:1/", nil))
	var er struct{ Code, Field string }
	if code := e.do("GET", "/v1/destinations/"+id+"/failures?before=zz", nil, &er); code != http.StatusBadRequest || er.Field != "before" {
		t.Fatalf("bad cursor: %d %+v", code, er)
	}
	var ok struct {
		Failures []Failure `json:"failures"`
		Next     string    `json:"next"`
	}
	if code := e.do("GET", "/v1/destinations/"+id+"/failures?before=1796040000123", nil, &ok); code != http.StatusOK {
		t.Fatalf("legacy cursor: %d", code)
	}
	er = struct{ Code, Field string }{}
	if code := e.do("POST", "/v1/destinations/"+id+"/failures/replay", map[string]any{"ids": "x"}, &er); code != http.StatusBadRequest ||
		er.Code != "invalid_type" || er.Field != "ids" {
		t.Fatalf("ids of the wrong type: %d %+v", code, er)
	}
	var rep map[string]int
	if code := e.do("POST", "/v1/destinations/"+id+"/failures/replay", nil, &rep); code != http.StatusOK || rep["replayed"] != 0 {
		t.Fatalf("empty body: %d %v", code, rep)
	}
}
