package identity

// SkipStoredOutputs makes the processor write "1" (already published) as
// each message's dedup value instead of its output, and skip the
// mark-as-published step. For a replay into a new generation, which
// publishes nothing: it saves a large write per message, and the dedup keys
// still make every later redelivery of those messages a no-op.
func (p *Processor) SkipStoredOutputs() { p.noStore = true }
