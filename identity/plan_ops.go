package identity

// fieldOps collects the writes of a profile hash in order; a later write
// of a field replaces an earlier one (set or delete). A message writes a
// handful of fields, so a slice beats maps.
type fieldOps struct {
	ops  []fieldOp
	dels int
}

type fieldOp struct {
	field, val string
	del        bool
}

func (f *fieldOps) put(k, v string, del bool) {
	for i := range f.ops {
		if f.ops[i].field == k {
			if f.ops[i].del != del {
				if del {
					f.dels++
				} else {
					f.dels--
				}
			}
			f.ops[i].val, f.ops[i].del = v, del
			return
		}
	}
	f.ops = append(f.ops, fieldOp{field: k, val: v, del: del})
	if del {
		f.dels++
	}
}

func (f *fieldOps) set(k, v string) { f.put(k, v, false) }
func (f *fieldOps) unset(k string)  { f.put(k, "", true) }

// changeLog records trait changes: the first old value and the last new
// one of each trait (apply.lua's change).
type changeLog struct {
	list luaList[[]string]
	at   map[string]int
}

func (l *changeLog) add(k, old, new string) {
	if i, ok := l.at[k]; ok {
		l.list[i][2] = new
		return
	}
	if l.at == nil {
		l.at = map[string]int{}
	}
	l.at[k] = len(l.list)
	l.list = append(l.list, []string{k, old, new})
}
