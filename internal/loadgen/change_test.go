package loadgen

import (
	"encoding/json"
	"testing"
)

func TestDecodeChangeMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"type":"segment.entered","messageId":"m1","tenant":"demo","segmentId":"s1","profileId":"p1","userId":"u1","identities":[{"type":"user_id","value":"u1"}],"timestamp":"2026-11-29T06:00:45Z","cause":"event"}`,
		`{"type":"segment.exited","segmentId":"s\u0031","userId":"u\"1","messageId":"m"}`,
		`{"userId":null,"type":"segment.entered","segmentId":"s","messageId":"m"}`,
		` { "type" : "segment.entered" , "segmentId" : "s" } `,
		`{"type":"segment.entered",`,
		`[]`,
	} {
		var want change
		wantOK := json.Unmarshal([]byte(in), &want) == nil
		got, ok := decodeChange([]byte(in))
		if ok != wantOK || (ok && got != want) {
			t.Errorf("%s: got %+v %v, want %+v %v", in, got, ok, want, wantOK)
		}
	}
}

func BenchmarkDecodeChange(b *testing.B) {
	in := []byte(`{"type":"segment.entered","messageId":"8c0c7f3b-4044-5c17-a6fa-ec6093f564ab","tenant":"demo","segmentId":"0c24c439-0b95-4696-b467-403deac44e3e","segmentName":"loadgen dn7go8x7k8hd","profileId":"pf11e938717dedc7f","userId":"lg-dn7go8x7k8hd-146852","identities":[{"type":"user_id","value":"lg-dn7go8x7k8hd-146852"}],"timestamp":"2026-11-29T06:00:45.166722668Z","cause":"event"}`)
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			decodeChange(in)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var c change
			_ = json.Unmarshal(in, &c)
		}
	})
}

func TestIdentifyBatchIsTheBatchOfIdentifies(t *testing.T) {
	var got struct {
		Batch []struct {
			Type, UserID, MessageID string
			Traits                  map[string]string
		}
	}
	if err := json.Unmarshal(identifyBatch("r1", 7, 3), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Batch) != 3 {
		t.Fatalf("%d events", len(got.Batch))
	}
	for i, e := range got.Batch {
		id := "lg-r1-" + string(rune('7'+i))
		if e.Type != "identify" || e.UserID != id || e.MessageID != id || e.Traits["loadgen_run"] != "r1" || e.Traits["plan"] != "pro" {
			t.Errorf("event %d: %+v", i, e)
		}
	}
}
