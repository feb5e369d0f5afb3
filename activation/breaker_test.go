package activation

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/user360/user360/internal/testenv"
	"github.com/user360/user360/schemas"
)

func TestBreakerPausesAFailingDestinationAndMetricsShowIt(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, testenv.Redis(t), func(c *Config, d *Deps) {
		c.BreakerThreshold = 3
		c.BreakerCooldown = 2 * time.Second
		c.BaseBackoff = 10 * time.Millisecond
		d.Metrics = reg
	}).start()
	rc := newReceiver(t, func(int, *recvCall, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	id, _ := e.createDest(webhook(rc.URL, nil))
	for i := range 5 {
		e.produce(e.change(schemas.SegmentEntered, "p"+string(rune('a'+i)), "seg1", i))
	}
	// The first failures open it (calls already in flight still finish).
	waitFor(t, 10*time.Second, func() bool {
		d := e.svc.dispatcher(e.tenant, id)
		return d != nil && d.br.state(time.Now()) == breakerOpen
	})
	time.Sleep(200 * time.Millisecond) // in-flight calls end
	opened := len(rc.snapshot())
	if opened < 3 {
		t.Fatalf("breaker opened after %d calls, threshold 3", opened)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(rc.snapshot()); n != opened {
		t.Fatalf("open breaker let %d calls through", n-opened)
	}
	var st Stats
	e.do("GET", "/v1/destinations/"+id+"/stats", nil, &st)
	if st.Breaker != breakerOpen || st.Pending != 5 || st.Retrying < 1 || st.Delivered != 0 {
		t.Fatalf("stats %+v", st)
	}
	// After the cooldown exactly one probe goes out; it fails and reopens.
	waitFor(t, 5*time.Second, func() bool { return len(rc.snapshot()) == opened+1 })
	time.Sleep(300 * time.Millisecond)
	if n := len(rc.snapshot()); n != opened+1 {
		t.Fatalf("half-open breaker sent %d calls, want 1 probe", n-opened)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if !strings.Contains(" tenant destination outcome ", " "+l.GetName()+" ") {
					t.Fatalf("%s has label %s: only tenant, destination and outcome are allowed", mf.GetName(), l.GetName())
				}
			}
			if mf.GetName() == "user360_activation_breaker_open" && m.GetGauge().GetValue() == 1 {
				seen["open"] = true
			}
			if mf.GetName() == "user360_activation_calls_total" && m.GetCounter().GetValue() >= 3 {
				seen["calls"] = true
			}
		}
	}
	if !seen["open"] || !seen["calls"] {
		t.Fatalf("metrics missing: %v", seen)
	}
}
