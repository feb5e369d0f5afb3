package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/user360/user360/examples/connector"
	"github.com/user360/user360/examples/engagement"
)

func apiCall(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestPipelineWithThirdPartyClients: a connector written with kafka-go
// produces to user360.events; the message becomes a profile; a segment
// created through the API matches it; an engagement module written with
// kafka-go sees its segment.entered. Also: a tracking call is readable
// through the profile API shortly after its 2xx.
func TestPipelineWithThirdPartyClients(t *testing.T) {
	httpURL, broker := devProcess(t)
	code, seg := apiCall(t, "POST", httpURL+"/v1/segments", "ak_e2e",
		`{"name":"WhatsApp buyers","rule":{"all":[{"trait":"lastChannel","op":"eq","value":"whatsapp"},{"event":"Order Completed","performed":true}]}}`)
	if code != 201 {
		t.Fatalf("create segment: %d %v", code, seg)
	}
	segID, _ := seg["id"].(string)

	p, err := connector.NewProducer(connector.Config{Brokers: []string{broker}, Tenant: "demo", Source: "wa-connector"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Send(ctx,
		connector.Identify("wa-user-1", map[string]any{"lastChannel": "whatsapp", "phone": "+919845012345"}),
		connector.Track("wa-user-1", "Order Completed", map[string]any{"revenue": 499}),
	); err != nil {
		t.Fatal(err)
	}

	entered := make(chan engagement.Change, 4)
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- engagement.Consume(cctx, engagement.Config{Brokers: []string{broker}, GroupID: "e2e-engagement"},
			func(_ context.Context, c engagement.Change) error {
				if c.Entered() {
					entered <- c
				}
				return nil
			})
	}()
	defer func() { ccancel(); <-done }()
	select {
	case c := <-entered:
		if c.SegmentID != segID || c.UserID != "wa-user-1" {
			t.Fatalf("entered %+v, want segment %s for wa-user-1", c, segID)
		}
	case <-ctx.Done():
		t.Fatal("the engagement module never saw segment.entered")
	}

	// The profile of the connector's user, through the API.
	code, prof := apiCall(t, "GET", httpURL+"/v1/profiles/user_id:wa-user-1", "ak_e2e", "")
	if code != 200 {
		t.Fatalf("profile: %d %v", code, prof)
	}
	if b, _ := json.Marshal(prof); !bytes.Contains(b, []byte(segID)) || !bytes.Contains(b, []byte("+919845012345")) {
		t.Errorf("profile lacks its segment or phone: %s", b)
	}

	// A tracking call is readable through the profile API soon after 2xx.
	req, _ := http.NewRequest("POST", httpURL+"/v1/identify", strings.NewReader(`{"userId":"web-9","traits":{"email":"Web9@Example.com"}}`))
	req.SetBasicAuth("wk_e2e", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("identify: %v %v", resp, err)
	}
	resp.Body.Close()
	acked := time.Now()
	for {
		code, prof = apiCall(t, "GET", httpURL+"/v1/profiles/email:web9@example.com", "ak_e2e", "")
		if code == 200 {
			t.Logf("profile readable %v after the 2xx", time.Since(acked).Round(time.Millisecond))
			break
		}
		if time.Since(acked) > 20*time.Second {
			t.Fatalf("profile not readable 20s after the 2xx: %d %v", code, prof)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
