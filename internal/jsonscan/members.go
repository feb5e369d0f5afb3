package jsonscan

// Members calls fn with the raw key (between the quotes, escapes left as
// they are) and the raw value of each member of the object at b[i:], in
// order, until fn returns false. It returns false when b[i:] does not
// start with a well-formed object; it checks the structure (quotes,
// brackets, separators), not every literal, so callers that need exact
// JSON validity check it themselves.
func Members(b []byte, i int, fn func(key, val []byte) bool) bool {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end := SkipString(b, i)
		if end < 0 {
			return false
		}
		key := b[i+1 : end-1]
		i = SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = SkipSpace(b, i+1)
		vend := SkipValue(b, i)
		if vend < 0 {
			return false
		}
		if !fn(key, b[i:vend]) {
			return true
		}
		i = SkipSpace(b, vend)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = SkipSpace(b, i+1)
	}
}

// Elements calls fn with each raw element of the array at b[i:] until fn
// returns false; false when it is not a well-formed array (structure only,
// as Members).
func Elements(b []byte, i int, fn func(val []byte) bool) bool {
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for {
		vend := SkipValue(b, i)
		if vend < 0 {
			return false
		}
		if !fn(b[i:vend]) {
			return true
		}
		i = SkipSpace(b, vend)
		if i >= len(b) {
			return false
		}
		if b[i] == ']' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = SkipSpace(b, i+1)
	}
}

// NamedMembers is Members with each key unescaped into its name; it
// returns false also when a key is not a valid JSON string.
func NamedMembers(b []byte, i int, fn func(name string, val []byte) bool) bool {
	good := true
	ok := Members(b, i, func(k, v []byte) bool {
		name, valid := Unescape(k)
		if !valid {
			good = false
			return false
		}
		return fn(name, v)
	})
	return ok && good
}
