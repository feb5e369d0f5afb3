package csvimport_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/user360/user360/ingest/csvimport"
)

// genCSV streams a users file of n rows without holding it in memory.
type genCSV struct {
	n, i int
	buf  []byte
	hdr  bool
}

func (g *genCSV) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) {
		if !g.hdr {
			g.buf = append(g.buf, "userId,email,phone,loyalty points,tags,emailOptin,city,plan\n"...)
			g.hdr = true
			continue
		}
		if g.i >= g.n {
			break
		}
		g.buf = fmt.Appendf(g.buf, "user-%d,user%d@example.com,+3361%07d,%d,a;b,yes,Paris,gold\n", g.i, g.i, g.i%10000000, g.i%1000)
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// BenchmarkImport measures rows/s of Import (CSV parsing, mapping,
// validation, encoding, publishing to the embedded broker, job state in the
// real Redis). One op is one import of 100,000 rows.
func BenchmarkImport(b *testing.B) {
	const rows = 100_000
	for _, batch := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			cfg := csvimport.DefaultConfig()
			cfg.BatchSize = batch
			h := newHarness(b, false, cfg)
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				st, err := h.svc.Import(context.Background(), h.tenantConfig(), csvimport.Options{JobID: fmt.Sprintf("bench%d", i)}, &genCSV{n: rows})
				if err != nil || st.Counts.Total != rows {
					b.Fatalf("%v %+v", err, st)
				}
			}
			b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
		})
	}
}
