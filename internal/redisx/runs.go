package redisx

// Runs splits n items into runs for batched script calls: the items of one
// key (a tenant: its hash slot) in their order, at most max per run. It
// returns item indexes; the runs of a key follow each other in the
// result, so a pipeline that sends them in order keeps each key's order.
func Runs(n, max int, key func(i int) string) [][]int {
	var runs [][]int
	open := map[string]int{} // key → its run being filled
	for i := range n {
		k := key(i)
		r, ok := open[k]
		if !ok || len(runs[r]) == max {
			r = len(runs)
			runs = append(runs, make([]int, 0, min(max, n-i)))
			open[k] = r
		}
		runs[r] = append(runs[r], i)
	}
	return runs
}
