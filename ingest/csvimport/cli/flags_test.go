package cli

import (
	"io"
	"testing"
)

func TestParseFlags(t *testing.T) {
	env := map[string]string{"USER360_SERVER": "http://srv:9/", "USER360_API_KEY": "envkey"}
	getenv := func(k string) string { return env[k] }
	o, err := parseFlags([]string{"--file", "f.csv", "--map", "A=b", "--map", "C=-", "--tag", "x,y", "--mode", "replace"}, io.Discard, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if o.server != "http://srv:9" || o.apiKey != "envkey" || len(o.maps) != 2 || o.tags[0] != "x,y" || o.mode != "replace" {
		t.Fatalf("%+v", o)
	}
	o, err = parseFlags([]string{"--file", "f.csv", "--server", "http://other", "--api-key", "k"}, io.Discard, getenv)
	if err != nil || o.server != "http://other" || o.apiKey != "k" {
		t.Fatalf("flags must win over env: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{},
		{"--file", "f.csv", "--mode", "upsert"},
		{"--file", "f.csv", "--map", "nomapping"},
		{"--file", "f.csv", "extra"},
	} {
		if _, err := parseFlags(bad, io.Discard, getenv); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseFlags([]string{"--file", "f.csv"}, io.Discard, func(string) string { return "" }); err == nil {
		t.Error("no API key accepted")
	}
}
