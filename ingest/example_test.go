package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/schemas"
)

// A gateway on an embedded broker: a batch with one invalid message is
// accepted, and the response names the rejected index.
func Example() {
	topics := schemas.NewTopics("")
	broker, _ := kafka.StartEmbedded(kafka.EmbeddedConfig{Topics: topics.All()})
	defer broker.Close()
	cl, _ := kafka.NewClient(kafka.ClientConfig{Brokers: broker.Addrs()})
	defer cl.Close()
	tenants, _ := config.NewTenants([]config.Tenant{{ID: "demo", WriteKeys: []string{"wk"}}})
	g, _ := ingest.New(ingest.DefaultConfig(), ingest.Deps{
		Tenants: tenants, Publisher: ingest.NewPublisher(cl, topics, "example"), Log: zerolog.Nop(),
	})
	mux := http.NewServeMux()
	g.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/v1/batch",
		strings.NewReader(`{"batch":[{"type":"track","userId":"42","event":"Signed Up"},{"type":"track","userId":"42"}]}`))
	req.SetBasicAuth("wk", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output: 200 {"success":true,"rejected":[{"index":1,"error":"event: a track call needs an event name","field":"event","code":"missing_field"}]}
}
