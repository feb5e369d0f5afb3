package activation

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

func TestDeliveryIsSignedWithDeliveryIDAndBothFormats(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	rcA := newReceiver(t, nil)
	rcB := newReceiver(t, nil)
	idA, secretA := e.createDest(webhook(rcA.URL, nil))
	idB, secretB := e.createDest(webhook(rcB.URL, map[string]any{"format": "segment", "secret": ""}))
	if secretB == "" || secretB == secretA {
		t.Fatalf("a generated secret was expected, got %q", secretB)
	}
	c := e.change(schemas.SegmentEntered, "p1", "seg1", 1)
	e.produce(c)
	waitFor(t, 10*time.Second, func() bool { return len(rcA.delivered()) == 1 && len(rcB.delivered()) == 1 })

	a := rcA.delivered()[0]
	if err := Verify(secretA, a.Signature, a.Timestamp, a.Body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature of A: %v", err)
	}
	if err := Verify("wrong", a.Signature, a.Timestamp, a.Body, time.Now(), 0); err == nil {
		t.Fatal("a wrong secret verified")
	}
	if a.DeliveryID != c.MessageID+":"+idA {
		t.Fatalf("delivery id %q", a.DeliveryID)
	}
	var got schemas.SegmentChange
	if err := json.Unmarshal(a.Body, &got); err != nil || got.MessageID != c.MessageID || got.ProfileID != "p1" {
		t.Fatalf("user360 body: %s %v", a.Body, err)
	}
	if err := schemas.Validate(schemas.FileSegmentChange, a.Body); err != nil {
		t.Fatalf("user360 body is not a segment change: %v", err)
	}

	b := rcB.delivered()[0]
	if err := Verify(secretB, b.Signature, b.Timestamp, b.Body, time.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature of B: %v", err)
	}
	if b.DeliveryID != c.MessageID+":"+idB {
		t.Fatalf("delivery id %q", b.DeliveryID)
	}
	var seg map[string]any
	_ = json.Unmarshal(b.Body, &seg)
	props, _ := seg["properties"].(map[string]any)
	ctxm, _ := seg["context"].(map[string]any)
	traits, _ := ctxm["traits"].(map[string]any)
	if seg["type"] != "track" || seg["event"] != AudienceEntered || seg["userId"] != "u-p1" ||
		props["audience_key"] != "big_spenders" || props["big_spenders"] != true || traits["email"] != "p1@example.com" {
		t.Fatalf("segment body: %s", b.Body)
	}
	// The stats count the deliveries (recorded once the worker has the
	// receiver's answer, which may be just after the receiver saw the call).
	var st Stats
	var code int
	waitFor(t, 10*time.Second, func() bool {
		st = Stats{}
		code = e.do("GET", "/v1/destinations/"+idA+"/stats", nil, &st)
		return code == 200 && st.Delivered == 1
	})
	if code != 200 || st.Delivered != 1 || st.Pending != 0 || st.Latency.Count != 1 {
		t.Fatalf("stats: %d %+v", code, st)
	}
}

func TestServerErrorsAreRetriedWithGrowingGapsThenDeliveredOnce(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	rc := newReceiver(t, func(n int, _ *recvCall, _ http.ResponseWriter) int {
		if n <= 4 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	id, _ := e.createDest(webhook(rc.URL, nil))
	e.produce(e.change(schemas.SegmentEntered, "p1", "seg1", 1))
	waitFor(t, 10*time.Second, func() bool { return len(rc.delivered()) == 1 })
	time.Sleep(100 * time.Millisecond) // nothing more must come
	calls := rc.snapshot()
	if len(calls) != 5 {
		t.Fatalf("want 4 failures and 1 delivery, got %d calls", len(calls))
	}
	// Backoff 40ms·2^(n-1) with jitter in [d/2, d]: gaps 20-40, 40-80,
	// 80-160, 160-320 ms (plus polling), so the last gap exceeds the first.
	var gaps []time.Duration
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].At.Sub(calls[i-1].At))
		if calls[i].DeliveryID != calls[0].DeliveryID {
			t.Fatal("retries changed the delivery id")
		}
	}
	if gaps[3] <= gaps[0] || gaps[3] < 160*time.Millisecond {
		t.Fatalf("gaps do not grow: %v", gaps)
	}
	// The outcome is recorded once the worker has the receiver's answer.
	var st Stats
	waitFor(t, 10*time.Second, func() bool {
		st = Stats{}
		e.do("GET", "/v1/destinations/"+id+"/stats", nil, &st)
		return st.Delivered == 1
	})
	if st.Delivered != 1 || st.Retrying != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	rc := newReceiver(t, func(n int, _ *recvCall, w http.ResponseWriter) int {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	e.createDest(webhook(rc.URL, nil))
	e.produce(e.change(schemas.SegmentEntered, "p1", "seg1", 1))
	waitFor(t, 10*time.Second, func() bool { return len(rc.delivered()) == 1 })
	calls := rc.snapshot()
	if len(calls) != 2 {
		t.Fatalf("calls: %d", len(calls))
	}
	// The backoff alone would retry after 20-40 ms.
	if gap := calls[1].At.Sub(calls[0].At); gap < 990*time.Millisecond {
		t.Fatalf("retried after %s despite Retry-After: 1", gap)
	}
}

func TestPermanentFailureGoesToFailuresAndDeadLetterAndReplays(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	var fixed atomic.Bool
	rc := newReceiver(t, func(int, *recvCall, http.ResponseWriter) int {
		if fixed.Load() {
			return http.StatusOK
		}
		return http.StatusBadRequest
	})
	id, _ := e.createDest(webhook(rc.URL, nil))
	c := e.change(schemas.SegmentEntered, "p1", "seg1", 1)
	e.produce(c)
	var fs struct {
		Failures []Failure `json:"failures"`
	}
	waitFor(t, 10*time.Second, func() bool {
		e.do("GET", "/v1/destinations/"+id+"/failures", nil, &fs)
		return len(fs.Failures) == 1
	})
	if len(rc.snapshot()) != 1 {
		t.Fatalf("a 400 was retried: %d calls", len(rc.snapshot()))
	}
	f := fs.Failures[0]
	if f.DeliveryID != c.MessageID+":"+id || f.Status != 400 || f.ProfileID != "p1" || f.Attempts != 1 {
		t.Fatalf("failure %+v", f)
	}
	// The dead-letter topic has it too.
	recs := testenv.ReadAll(t, e.brokers, e.topics.DeadLetter, 1, 15*time.Second)
	if len(recs) != 1 {
		t.Fatalf("dead letters: %d", len(recs))
	}
	if err := schemas.Validate(schemas.FileDeadLetter, recs[0].Value); err != nil {
		t.Fatal(err)
	}
	var dl schemas.DeadLetter
	_ = json.Unmarshal(recs[0].Value, &dl)
	if dl.Stage != "activation" || dl.Tenant != e.tenant || dl.MessageID != f.DeliveryID {
		t.Fatalf("dead letter %+v", dl)
	}
	var st Stats
	e.do("GET", "/v1/destinations/"+id+"/stats", nil, &st)
	if st.Failed != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}

	fixed.Store(true)
	var rep map[string]int
	if code := e.do("POST", "/v1/destinations/"+id+"/failures/replay", nil, &rep); code != 200 || rep["replayed"] != 1 {
		t.Fatalf("replay: %d %v", code, rep)
	}
	waitFor(t, 10*time.Second, func() bool { return len(rc.delivered()) == 1 })
	if d := rc.delivered()[0]; d.DeliveryID != f.DeliveryID {
		t.Fatalf("replay changed the delivery id: %s", d.DeliveryID)
	}
	e.do("GET", "/v1/destinations/"+id+"/failures", nil, &fs)
	if len(fs.Failures) != 0 {
		t.Fatalf("failures after replay: %+v", fs.Failures)
	}
	// Replaying again finds nothing.
	e.do("POST", "/v1/destinations/"+id+"/failures/replay", map[string]any{"ids": []string{f.DeliveryID}}, &rep)
	if rep["replayed"] != 0 {
		t.Fatalf("second replay: %v", rep)
	}
}

func TestRetriesExhaustAfterMaxAge(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	rc := newReceiver(t, func(int, *recvCall, http.ResponseWriter) int { return http.StatusBadGateway })
	id, _ := e.createDest(webhook(rc.URL, map[string]any{"maxAgeSeconds": 1}))
	e.produce(e.change(schemas.SegmentEntered, "p1", "seg1", 1))
	waitFor(t, 10*time.Second, func() bool {
		fs, _, _ := e.svc.Failures(context.Background(), e.tenant, id, "", 10)
		return len(fs) == 1
	})
	n := len(rc.snapshot())
	if n < 3 {
		t.Fatalf("gave up after %d calls within a 1s max age", n)
	}
	fs, _, _ := e.svc.Failures(context.Background(), e.tenant, id, "", 10)
	if fs[0].Status != 502 || fs[0].Attempts != n {
		t.Fatalf("failure %+v (calls %d)", fs[0], n)
	}
}

func TestHangingReceiverDoesNotDelayHealthyDestination(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, testenv.Redis(t)).start()
	var hanging atomic.Int32
	hang := newReceiver(t, func(int, *recvCall, http.ResponseWriter) int {
		hanging.Add(1)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return http.StatusOK
	})
	defer close(release)
	healthy := newReceiver(t, nil)
	e.createDest(webhook(hang.URL, nil))
	e.createDest(webhook(healthy.URL, nil))
	const n = 40
	start := time.Now()
	for i := range n {
		// Several changes per profile and many profiles.
		e.produce(e.change(schemas.SegmentEntered, "p"+strconv.Itoa(i%10), "seg"+strconv.Itoa(i), i))
	}
	waitFor(t, 15*time.Second, func() bool { return len(healthy.delivered()) == n })
	var worst time.Duration
	for _, c := range healthy.delivered() {
		worst = max(worst, c.At.Sub(start))
	}
	// The hanging receiver holds its calls for 10 s (its Timeout is 5 s):
	// had it held up the healthy one, some delivery would come 5 s or more
	// after the produce. The margin below 5 s absorbs a loaded CI machine
	// (consumer group join, scheduling).
	if worst > 4500*time.Millisecond {
		t.Fatalf("healthy destination delayed: last delivery %s after produce", worst)
	}
	if got := len(hang.delivered()); got != 0 || hanging.Load() == 0 {
		t.Fatalf("the hanging receiver must be called and not have answered: %d answered, %d called", got, hanging.Load())
	}
}

func TestOrderPerProfileHoldsUnderRetries(t *testing.T) {
	e := newEnv(t, testenv.Redis(t)).start()
	// Every entry fails twice, so its exit is ready long before it.
	rc := newReceiver(t, func(n int, c *recvCall, _ http.ResponseWriter) int {
		var sc schemas.SegmentChange
		_ = json.Unmarshal(c.Body, &sc)
		if sc.Type == schemas.SegmentEntered && n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	e.createDest(webhook(rc.URL, nil))
	const profiles, rounds = 6, 4
	var want = map[string][]string{}
	for r := range rounds {
		for p := range profiles {
			pid := "p" + strconv.Itoa(p)
			for _, typ := range []string{schemas.SegmentEntered, schemas.SegmentExited} {
				c := e.change(typ, pid, "seg1", r*2+len(want[pid])%2)
				c.MessageID = pid + "-" + strconv.Itoa(len(want[pid]))
				want[pid] = append(want[pid], c.MessageID)
				e.produce(c)
			}
		}
	}
	total := profiles * rounds * 2
	waitFor(t, 20*time.Second, func() bool { return len(rc.delivered()) >= total })
	got := map[string][]string{}
	for _, c := range rc.delivered() {
		var sc schemas.SegmentChange
		_ = json.Unmarshal(c.Body, &sc)
		got[sc.ProfileID] = append(got[sc.ProfileID], sc.MessageID)
	}
	for pid, w := range want {
		if len(got[pid]) != len(w) {
			t.Fatalf("%s: got %v want %v", pid, got[pid], w)
		}
		for i := range w {
			if got[pid][i] != w[i] {
				t.Fatalf("%s out of order: got %v want %v", pid, got[pid], w)
			}
		}
	}
}
