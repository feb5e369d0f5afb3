package identity

import "strconv"

// encodeOut encodes an output as apply.lua stores it for redelivery (the
// shape decodeOut reads); fast.lua stores what the processor planned.
func encodeOut(o *luaOut) []byte {
	n := 128 + len(o.P) + len(o.TrJ) + len(o.C) + len(o.Ls) + len(o.U)
	for _, kv := range o.Tr {
		for _, s := range kv {
			n += len(s) + 4
		}
	}
	for _, c := range o.Ch {
		for _, s := range c {
			n += len(s) + 4
		}
	}
	for _, s := range o.ID {
		n += len(s) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, `{"s":`...)
	b = appendJSONString(b, o.S)
	b = append(b, `,"p":`...)
	b = appendJSONString(b, o.P)
	b = append(b, `,"cr":`...)
	b = strconv.AppendInt(b, int64(o.Cr), 10)
	b = append(b, `,"ab":`...)
	b = appendStrings(b, o.Ab)
	b = append(b, `,"ch":`...)
	b = appendLists(b, o.Ch)
	if o.TrJ != nil {
		b = append(b, `,"trj":`...)
		b = append(b, o.TrJ...)
	} else {
		b = append(b, `,"tr":`...)
		b = appendLists(b, o.Tr)
	}
	b = append(b, `,"id":`...)
	b = appendStrings(b, o.ID)
	b = append(b, `,"c":`...)
	b = appendJSONString(b, o.C)
	b = append(b, `,"ls":`...)
	b = appendJSONString(b, o.Ls)
	b = append(b, `,"u":`...)
	b = appendJSONString(b, o.U)
	return append(b, '}')
}

func appendStrings(b []byte, l []string) []byte {
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendLists(b []byte, ls [][]string) []byte {
	b = append(b, '[')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStrings(b, l)
	}
	return append(b, ']')
}
