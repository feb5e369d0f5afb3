package csvimport_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/testenv"
)

// When the log does not acknowledge, the job fails with ErrUnavailable and
// says so in its state; nothing is reported as imported.
func TestImportLogUnavailable(t *testing.T) {
	k, topics := testenv.Kafka(t)
	cl, err := kafka.NewClient(kafka.ClientConfig{Brokers: k.Addrs(), ProduceTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	tenant := testenv.Tenant(t)
	ts, _ := config.NewTenants([]config.Tenant{{ID: tenant, APIKeys: []string{"k-" + tenant}}})
	cfg := csvimport.DefaultConfig()
	cfg.Namespace = testenv.Namespace(t)
	cfg.PublishRetries = 1
	svc, err := csvimport.New(cfg, csvimport.Deps{Tenants: ts, Redis: testenv.Redis(t),
		Publisher: ingest.NewPublisher(cl, topics, "import"), Schema: propschema.NewValidator(nil), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	k.Close() // the broker goes away
	tn, _ := ts.Get(tenant)
	st, err := svc.Import(context.Background(), tn, csvimport.Options{JobID: "down"}, strings.NewReader("id,email\n1,a@example.com\n"))
	if !errors.Is(err, csvimport.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if st == nil || st.Status != csvimport.StatusFailed || st.Counts.Total != 0 || st.Error == "" {
		t.Fatalf("status %+v", st)
	}
	got, err := svc.Status(context.Background(), tn, "down")
	if err != nil || got.Status != csvimport.StatusFailed || got.ErrorLines != 1 {
		t.Fatalf("stored status %+v %v", got, err)
	}
}
