package identity

// importMode reads the marks that ingest/csvimport puts on its identify
// messages (context.user360 = {"source":"csv","mode":"merge"|"replace"}):
// mode replace replaces the whole trait set (like bulk RETAIN_IMPORTED);
// a merge import unions its tags with the profile's, so that every import
// remains a segment of the users it touched. rp is the replace flag already
// set by the message's other marks.
func importMode(ctx map[string]any, rp int) (replace, unionTags int) {
	u, _ := ctx["user360"].(map[string]any)
	if u == nil {
		return rp, 0
	}
	if mode, _ := u["mode"].(string); mode == "replace" {
		return 1, 0
	}
	if src, _ := u["source"].(string); src == "csv" && rp == 0 {
		return rp, 1
	}
	return rp, 0
}
