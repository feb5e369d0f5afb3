package segmenter

import (
	"reflect"
	"testing"

	"github.com/user360/user360/schemas"
)

func TestStateCodecRoundTrip(t *testing.T) {
	st := State{
		UserID:     "u1",
		Identities: []schemas.Identity{{Type: "email", Value: "a@b.c"}, {Type: "user_id", Value: "u1"}},
		Conds:      map[string][]int64{"k1": {5 << 10, 9<<10 | 3}, "k2": {}},
		Segs:       map[string]*member{"s1": {In: true, Seq: 3, Due: 1700000000000}, "s2": {Seq: 2}},
		Offsets:    map[string]int64{"0": 42, "3": 7},
		OutSeq:     12,
		Gone:       "merged",
	}
	var got State
	if err := decodeState(encodeState(&st), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, st)
	}
	var empty State
	if err := decodeState(encodeState(&State{}), &empty); err != nil || !reflect.DeepEqual(empty, State{}) {
		t.Fatalf("empty: %+v %v", empty, err)
	}
}

func TestStateCodecRefusesCorruptInput(t *testing.T) {
	full := encodeState(&State{UserID: "u", Segs: map[string]*member{"s": {In: true, Seq: 1}}, Conds: map[string][]int64{"c": {1, 2, 3}}})
	for i := 1; i < len(full); i++ {
		var st State
		if err := decodeState(full[:i], &st); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	var st State
	if err := decodeState([]byte{9, 1, 2}, &st); err == nil {
		t.Fatal("unknown version accepted")
	}
	if err := decodeState([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, &st); err == nil {
		t.Fatal("huge length accepted")
	}
}
