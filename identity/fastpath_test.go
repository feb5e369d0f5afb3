package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

// outSeeds are apply.lua outputs as cjson writes them, plus odd ones.
var outSeeds = []string{
	`{"s":"ok","p":"p1a2b","cr":1,"ab":{},"ch":[["email","","\"a@b.c\""]],"tr":[["email","\"a@b.c\""],["plan","\"pro\""]],"id":["email:a@b.c","user_id:u1"],"c":"1700000000000","ls":"1700000000001","u":"1700000000002"}`,
	`{"s":"ok","p":"p1","cr":0,"ab":["p2","p3"],"ch":{},"tr":{},"id":{}}`,
	`{"s":"ok","p":"p1","cr":0,"ab":[],"ch":[],"tr":[],"id":[]}`,
	`{"s":"tomb"}`, `{"s":"noid"}`, `{}`, `null`, ``, `[]`, `{"s":1}`,
	`{"s":"deleted","del":[["p1","\"u1\"",["user_id:u1"]]]}`,
	`{"s":"deleted","del":{}}`,
	`{"s":"ok","tr":[["url","\"https:\/\/x.y\/a?b=1&c=<2>\""],["n","{\"a\":[1,2.5e3,null,true]}"],["tab","\"a\\tb\\n\""]]}`,
	`{"s":"ok","tr":[["u","\"\u00e9\u2028\ud800\""]]}`,
	`{"s":"ok","tr":[["é","\"日本\""]]}`,
	"{\"s\":\"ok\",\"tr\":[[\"bad\",\"\xff\xfe\"]]}",
	"{\"s\":\"a\x01b\"}",
	` { "s" : "ok" , "cr" : 1 , "ab" : [ "x" ] } `,
	`{"s":"ok","cr":1.0}`, `{"s":"ok","cr":1e0}`, `{"s":"ok","cr":-0}`, `{"s":"ok","cr":01}`,
	`{"s":"ok","cr":99999999999999999999}`, `{"s":"ok","cr":123456789012345678}`, `{"s":"ok","cr":null}`,
	`{"s":"ok","s":null}`, `{"s":"ok","s":"again"}`, `{"S":"ok","P":"x"}`, `{"s":"ok","zz":{"a":1}}`,
	`{"s":"ok","tr":[{},["a","1"]]}`, `{"s":"ok","tr":[["a",null]]}`, `{"s":"ok","tr":[["a","1"]],"tr":{}}`,
	`{"s":"ok","ab":null,"id":["a"],"id":null}`, `{"s":"ok"}x`, `{"s":"ok",}`, `{"s":"ok"`, `{"s":"o\k"}`,
	`{"s":"ok\\"}`, `{"s":"ok\"}`, `{"tid":"t1","p":"\/p"}`,
}

// sameAsJSON requires a fast decoder to give what json.Unmarshal gives
// for in: the same value, or the same error.
func sameAsJSON[T any](t *testing.T, in string, decode func([]byte, *T) error) {
	t.Helper()
	var want, got T
	werr := json.Unmarshal([]byte(in), &want)
	gerr := decode([]byte(in), &got)
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%q: error %v, want %v", in, gerr, werr)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q:\n got %#v\nwant %#v", in, got, want)
	}
}

func decodeBoth(t *testing.T, in string) {
	t.Helper()
	sameAsJSON(t, in, func(b []byte, o *luaOut) error { return decodeOut(string(b), o) })
}

// TestDecodeOutMatchesJSON: the fast decoder of script outputs gives what
// json.Unmarshal gives, for common and odd outputs alike.
func TestDecodeOutMatchesJSON(t *testing.T) {
	for _, s := range outSeeds {
		decodeBoth(t, s)
	}
}

func FuzzDecodeOut(f *testing.F) {
	for _, s := range outSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { decodeBoth(t, s) })
}

var encodeStrings = []string{"", "plain", "a\"b", `back\slash`, "<b>&amp;</b>", "tab\there\n", "\x00\x1f\x7f", "é日本", "\u2028\u2029", "\xff\xfe bad utf8", "p1a2b3c4d5"}

var encodeRaws = []string{"", `"x"`, `{"a":1}`, ` { "a" : [1, 2] } `, `"<tag>&"`, `"` + "\u2028" + `"`, `{"a":"é"}`, `{bad`, `nul`, `{"x":{"old":null,"new":"\"v\""}}`, `{"name":"Product Viewed","ua":"Mozilla/5.0 (X11; Linux)"}`, `{"a":"x\" y","b":"\\"}`, `{"a" :1}`, `"a\\" `, `["\"", 1]`}

func encodeBoth(t *testing.T, u *wireUpdate) {
	t.Helper()
	want, werr := json.Marshal(u)
	got, gerr := encodeUpdate(u)
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%+v: error %v, want %v", u, gerr, werr)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("%+v:\n got %s\nwant %s", u, got, want)
	}
}

// TestEncodeUpdateMatchesJSON: the record encoder writes exactly the bytes
// of json.Marshal (and its errors), escapes and odd raw values included.
func TestEncodeUpdateMatchesJSON(t *testing.T) {
	ts := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)
	times := []time.Time{ts, {}, ts.In(time.FixedZone("x", 5*3600+1800)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		ts.In(time.FixedZone("y", -(24*3600 + 60))), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	n := 0
	for i, s := range encodeStrings {
		for j, raw := range encodeRaws {
			u := &wireUpdate{
				Type: schemas.ProfileUpdated, MessageID: s, Tenant: "acme", ProfileID: encodeStrings[(i+1)%len(encodeStrings)],
				UserID: encodeStrings[(i+j)%len(encodeStrings)], Timestamp: times[(i+j)%len(times)],
				Identities: []schemas.Identity{{Type: "email", Value: s}, {Type: s, Value: "v"}},
			}
			switch j % 4 {
			case 0:
				u.Event = json.RawMessage(raw)
			case 1:
				u.Changes, u.Identities = json.RawMessage(raw), nil
			case 2:
				u.Traits, u.Merge = json.RawMessage(raw), &schemas.Merge{Survivor: s, Absorbed: []string{"p2", s}}
			case 3:
				u.Traits, u.Event, u.Merge = json.RawMessage(raw), json.RawMessage(`{"type":"track"}`), &schemas.Merge{Survivor: "p"}
				u.Identities = []schemas.Identity{}
			}
			encodeBoth(t, u)
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d cases", n)
	}
}

func FuzzEncodeUpdate(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, encodeRaws[i%len(encodeRaws)], int64(i)*1e17)
	}
	f.Fuzz(func(t *testing.T, s, raw string, ns int64) {
		u := &wireUpdate{Type: s, MessageID: s, Tenant: s, ProfileID: s, UserID: s, Timestamp: time.Unix(0, ns).UTC(),
			Identities: []schemas.Identity{{Type: s, Value: s}}, Traits: json.RawMessage(raw), Changes: json.RawMessage(raw),
			Merge: &schemas.Merge{Survivor: s, Absorbed: []string{s}}}
		encodeBoth(t, u)
	})
}

// TestProfileUpdatesEncodeLikeJSON: records built from odd script outputs
// (values with white space, HTML characters, invalid JSON) encode exactly
// as json.Marshal encodes them.
func TestProfileUpdatesEncodeLikeJSON(t *testing.T) {
	r := &rules{}
	ev := schemas.Event{Type: "identify", MessageID: "m1"}
	ts := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	vals := []string{"", `"x"`, ` 1 `, `{ "a" : "<b>" }`, `not json`, `"` + "\u2028" + `"`, `[1,2]`, `"é"`}
	for i, v := range vals {
		out := luaOut{S: outOK, P: "p1", Cr: i % 2, Ab: luaList[string]{"p2"}, ID: luaList[string]{"user_id:u<1>", "email:a@b.c"},
			Tr: luaList[[]string]{{"k" + v, v}, {"z", `"z"`}, {"bad"}},
			Ch: luaList[[]string]{{"k", vals[(i+1)%len(vals)], v}, {"short", "x"}}}
		for _, event := range []string{"", `{"type":"identify","messageId":"m1"}`} {
			ups := profileUpdates("acme", r, &ev, event, ts, &out)
			if len(ups) < 2 {
				t.Fatalf("%d updates", len(ups))
			}
			for k := range ups {
				encodeBoth(t, &ups[k])
			}
		}
	}
	del := luaOut{S: outDeleted, Del: luaList[[]json.RawMessage]{{json.RawMessage(`"p1"`), json.RawMessage(`"\"u1\""`), json.RawMessage(`["email:a@b.c"]`)}}}
	ups := profileUpdates("acme", r, &ev, "", ts, &del)
	if len(ups) != 1 {
		t.Fatalf("%d delete updates", len(ups))
	}
	encodeBoth(t, &ups[0])
}

// TestScriptMsgEncodeLikeJSON: the script message encoder writes exactly
// json.Marshal's bytes.
func TestScriptMsgEncodeLikeJSON(t *testing.T) {
	for i, s := range encodeStrings {
		m := scriptMsg{Mid: s, K: "apply", Ts: "1700000000000", Tsp: "1700000000000", Ids: []string{"email:" + s, s},
			Lim: map[string]int{"email": 3, "user_id": 1, s: -2, "a": 0}, Dl: 5, Tr: [][2]string{{s, `"` + s + `"`}, {"n", "null"}},
			Rp: i % 2, Ut: 1, Ev: `{"type":"track","properties":{"a":"<b>"}}`, En: s, Day: "2026-11-28", Cut: "2026-10-30",
			Cap: 100, Np: "p" + s, Dp: s, TbTTL: 1 << 40, Ns: 1}
		if i%3 == 0 {
			m.Ids, m.Lim, m.Tr = nil, nil, nil
		}
		if i%3 == 1 {
			m.Ids, m.Lim, m.Tr = []string{}, map[string]int{}, [][2]string{}
		}
		want, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeScriptMsg(&m); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	big := scriptMsg{Lim: map[string]int{}}
	for i := range 40 {
		big.Lim[fmt.Sprintf("t%02d", 40-i)] = i
	}
	want, _ := json.Marshal(&big)
	if got := encodeScriptMsg(&big); !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestNormPhoneCache: cached answers equal the parser's, for valid,
// invalid and national numbers in several regions, asked twice.
func TestNormPhoneCache(t *testing.T) {
	in := []string{"+14155550123", " +1 415-555-0123 ", "4155550123", "(415) 555-0123", "+442079460000", "020 7946 0000",
		"+919876543210", "09876543210", "+7 800 555 35 35", "88005553535", "123", "", "  ", "not a phone", "+999123456789", "+4915123456789"}
	for _, region := range []string{"", "US", "GB", "IN", "RU", "DE", "ZZ"} {
		for round := range 2 {
			for _, v := range in {
				wn, wok := parsePhone(v, region)
				gn, gok := normPhone(v, region)
				if wn != gn || wok != gok {
					t.Fatalf("round %d %q/%q: got %q %v, want %q %v", round, v, region, gn, gok, wn, wok)
				}
			}
		}
	}
	c := phoneCache{m: map[phoneKey]phoneResult{}}
	for i := range phoneCacheMax + 10 {
		c.put(phoneKey{fmt.Sprint(i), "US"}, phoneResult{"x", true})
	}
	if len(c.m) > phoneCacheMax {
		t.Fatalf("cache holds %d entries", len(c.m))
	}
}

func BenchmarkNormPhone(b *testing.B) {
	nums := []string{"+14155550123", "(415) 555-0124", "+442079460000", "+919876543210"}
	for i := range b.N {
		normPhone(nums[i%len(nums)], "US")
	}
}

// eventSeeds are events-topic values, common and odd.
var eventSeeds = []string{
	`{"type":"track","messageId":"m1","userId":"u1","event":"Product Viewed","properties":{"sku":"A-1","price":10.5,"tags":["a",1,true,null,{"x":[]}],"n":-0.5e-3},"context":{"ip":"1.2.3.4","library":{"name":"analytics.js"},"traits":{"email":"A@B.c"}},"integrations":{"All":true},"timestamp":"2026-11-28T10:00:00.123Z","sentAt":"2026-11-28T10:00:01Z","receivedAt":"2026-11-28T10:00:02+05:30","version":2,"channel":"web","writeKey":null}`,
	`{"type":"identify","messageId":"m2","anonymousId":"a1","traits":{"phone":"+1 415 555 0123","name":"Asha \"A\" R\u00e9\\\/x\n","url":"https://x.y/?a=1\u0026b=2\u003c"},"sentAt":null,"timestamp":null}`,
	`{"type":"page","name":"Home","properties":null,"context":{},"integrations":{},"traits":null}`,
	`{"type":"alias","previousId":"p","userId":"u","category":"c","groupId":"g"}`,
	`{}`, `null`, ``, `[]`, `"x"`, `{"type":1}`, `{"type":null,"messageId":null}`, `{"traits":[1]}`, `{"traits":{"a":1},"traits":{"b":2}}`,
	`{"Type":"track"}`, `{"TYPE":"track","messageid":"m"}`, `{"type":"track","TYPE":"delete","userId":"a","UserId":"b"}`, `{"TYPE":"delete","type":"track"}`, `{"Timestamp":5,"type":"t"}`, `{"ſype":"x"}`, `{"é":1,"type":"t"}`, `{"-":1}`, `{"Extra":{"a":1}}`,
	`{"timestamp":"bad"}`, `{"timestamp":"2026-11-28T10:00:00Z","receivedAt":5}`, `{"sentAt":"2026-13-01T00:00:00Z"}`, `{"timestamp":"2026-11-28 10:00:00Z"}`,
	`{"properties":{"big":1e400,"a":01}}`, `{"properties":{"a":1.}}`, `{"properties":{"a":.5}}`, `{"properties":{"a":-}}`, `{"properties":{"a":1e}}`, `{"properties":{"a":+1}}`,
	`{"properties":{"a":12345678901234567890123,"b":1E+2,"c":-0,"d":0.000001}}`,
	`{"properties":{"s":"\ud83d\ude00","t":"\ud800","u":"\uDFFF x"}}`, `{"properties":{"s":"\x"}}`, "{\"properties\":{\"s\":\"\xff\"}}", "{\"name\":\"a\tb\"}",
	`{"properties":{"a":1,"a":2}}`, `{"type":"track"} x`, `{"type":"track",}`, `{"type":"track"`, `{"type" "track"}`, `{"properties":{"a":tru}}`, `{"properties":{"a":[1,]}}`,
	` { "type" : "track" , "properties" : { "a" : [ 1 , 2 ] } } `, `{"properties":{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}`,
	`{"type":"track","unknown":{"nested":[{"a":"b"}],"n":null},"userId":"u\u0000"}`,
	`{"type":"identify","messageId":"m","userId":"1","traits":{"email":"A@B.C","phone":"+1 415 555 2671","tags":"a,b","dob":"x"}}`,
	`{"type":"track","messageId":"m","anonymousId":"a","context":{"externalIds":[{"id":5,"type":"x"},{"id":null},7],"traits":{"phone":12}}}`,
	`{"type":"delete","messageId":"m","context":{"user360ProfileId":"p1"}}`,
	`{"type":"page","messageId":"m","anonymousId":"0","properties":{"a":[1,{"b":null}],"h":"<a href='x'>&</a>","z":"\u2028"}}`,
}

// eventBoth: decodeEvent gives what schemas.UnmarshalEventFields gives
// (encoding/json on the exact keys), value and error.
func eventBoth(t *testing.T, in string) {
	t.Helper()
	var want, got plainEvent
	werr := schemas.UnmarshalEventFields([]byte(in), (*schemas.Event)(&want))
	gerr := decodeEvent([]byte(in), &got)
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%q: error %v, want %v", in, gerr, werr)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q:\n got %#v\nwant %#v", in, got, want)
	}
}

// TestDecodeEventMatchesJSON: the fast event decoder gives what
// encoding/json gives on the exact keys, for common and odd values alike.
func TestDecodeEventMatchesJSON(t *testing.T) {
	for _, s := range eventSeeds {
		eventBoth(t, s)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { eventBoth(t, s) })
}

// FuzzPrepareEncode: for any event, the fast decoder agrees with
// json.Unmarshal and the script message encoder with json.Marshal.
func FuzzPrepareEncode(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add(s)
	}
	r := compileRules(&config.Tenant{Identity: config.IdentityRules{TraitIdentifiers: map[string]string{"wa": "whatsapp"}}})
	st := NewStore(nil, "u360")
	f.Fuzz(func(t *testing.T, in string) {
		eventBoth(t, in)
		var pe plainEvent
		if decodeEvent([]byte(in), &pe) != nil {
			return
		}
		e := schemas.Event(pe)
		m, _, err := st.prepare("t", r, &e, fixedNow)
		if err != nil {
			return
		}
		if m.profileID() != newProfileID("t", m.Mid) {
			t.Fatalf("profile id %q", m.Np)
		}
		want, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeScriptMsg(&m); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// FuzzEncodeSummary: the timeline entry encoder writes exactly what
// json.Marshal writes (events decoded from the fuzzed JSON, at fuzzed
// times).
func FuzzEncodeSummary(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add(s, int64(1795870152123456789))
	}
	f.Add(`{"type":"track","event":"<a&b>","messageId":"m\u2028","properties":{"x":[1,2.5e30,null],"y":{"z":"é"}}}`, int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, in string, ns int64) {
		var pe plainEvent
		if decodeEvent([]byte(in), &pe) != nil {
			return
		}
		e := schemas.Event(pe)
		for _, ts := range []time.Time{time.Unix(0, ns).UTC(), time.Unix(0, ns).In(time.FixedZone("IST", 19800))} {
			s, _ := summary(&e, ts)
			want, werr := json.Marshal(s)
			got, gerr := encodeSummary(&s)
			if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("got  %s (%v)\nwant %s (%v)", got, gerr, want, werr)
			}
		}
	})
}
