package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDevRestartWithDataDirRebuildsState: `user360 dev --data-dir` keeps the
// log; restarted with its empty embedded Redis it rebuilds the profiles from
// the log.
func TestDevRestartWithDataDirRebuildsState(t *testing.T) {
	dir := t.TempDir()
	httpURL, _, stop := startDev(t, "--data-dir", dir)
	req, _ := http.NewRequest("POST", httpURL+"/v1/identify", strings.NewReader(`{"userId":"persisted-1","traits":{"plan":"pro"}}`))
	req.SetBasicAuth("wk_e2e", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("identify: %v %v", resp, err)
	}
	resp.Body.Close()
	waitProfile(t, httpURL, "user_id:persisted-1")
	stop()

	httpURL, _, stop = startDev(t, "--data-dir", dir)
	defer stop()
	prof := waitProfile(t, httpURL, "user_id:persisted-1")
	traits, _ := prof["traits"].(map[string]any)
	if traits == nil || !strings.Contains(jsonString(traits), "pro") {
		t.Fatalf("rebuilt profile lacks its traits: %v", prof)
	}
}

func waitProfile(t *testing.T, httpURL, ref string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, prof := apiCall(t, "GET", httpURL+"/v1/profiles/"+ref, "ak_e2e", "")
		if code == 200 {
			return prof
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile %s not readable: %d %v", ref, code, prof)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
