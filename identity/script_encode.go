package identity

import (
	"slices"
	"strconv"
)

// encodeScriptMsg returns exactly json.Marshal(m) without reflection (the
// message is encoded once per event on the hot path).
func encodeScriptMsg(m *scriptMsg) []byte {
	n := 256 + len(m.Mid) + len(m.Ev) + 32*len(m.Ids) + 24*len(m.Lim)
	for _, kv := range m.Tr {
		n += len(kv[0]) + len(kv[1]) + 8
	}
	b := make([]byte, 0, n)
	b = append(b, `{"mid":`...)
	b = appendJSONString(b, m.Mid)
	b = append(b, `,"k":`...)
	b = appendJSONString(b, m.K)
	b = append(b, `,"ts":`...)
	b = appendJSONString(b, m.Ts)
	b = append(b, `,"tsp":`...)
	b = appendJSONString(b, m.Tsp)
	b = append(b, `,"ids":`...)
	if m.Ids == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range m.Ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"lim":`...)
	if m.Lim == nil {
		b = append(b, "null"...)
	} else {
		var arr [16]string
		keys := arr[:0]
		for k := range m.Lim {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(m.Lim[k]), 10)
		}
		b = append(b, '}')
	}
	b = appendIntField(b, `,"dl":`, m.Dl)
	b = append(b, `,"tr":`...)
	if m.Tr == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, kv := range m.Tr {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendJSONString(b, kv[0])
			b = append(b, ',')
			b = appendJSONString(b, kv[1])
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	b = appendIntField(b, `,"rp":`, m.Rp)
	b = appendIntField(b, `,"ut":`, m.Ut)
	b = append(b, `,"ev":`...)
	b = appendJSONString(b, m.Ev)
	b = append(b, `,"en":`...)
	b = appendJSONString(b, m.En)
	b = append(b, `,"day":`...)
	b = appendJSONString(b, m.Day)
	b = append(b, `,"cut":`...)
	b = appendJSONString(b, m.Cut)
	b = appendIntField(b, `,"cap":`, m.Cap)
	b = append(b, `,"np":`...)
	b = appendJSONString(b, m.profileID())
	b = append(b, `,"dp":`...)
	b = appendJSONString(b, m.Dp)
	b = appendIntField(b, `,"tbttl":`, m.TbTTL)
	b = appendIntField(b, `,"ns":`, m.Ns)
	return append(b, '}')
}

func appendIntField(b []byte, name string, v int) []byte {
	b = append(b, name...)
	return strconv.AppendInt(b, int64(v), 10)
}
