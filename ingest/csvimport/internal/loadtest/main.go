package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/user360/user360/ingest"
	"github.com/user360/user360/ingest/csvimport"
	"github.com/user360/user360/ingest/csvimport/cli"
	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/internal/kafka"
	"github.com/user360/user360/internal/redisx"
	"github.com/user360/user360/schemas"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadtest gen|broker|import [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "broker":
		err = broker(ctx)
	case "import":
		err = runImport(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int("rows", 1_000_000, "rows")
	out := fs.String("out", "/tmp/users.csv", "output file")
	_ = fs.Parse(args)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "userId,Email,Phone Number,First Name,Last Name,Country,City,Tags,Newsletter,createdAt,Favourite Color")
	for i := range *rows {
		fmt.Fprintf(w, "user-%d,user%d@example.com,+3361%07d,Ada%d,Lovelace,FR,Paris,a;b,yes,2024-05-01T10:00:00Z,blue\n", i, i, i%10_000_000, i%1000)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func broker(ctx context.Context) error {
	topics := schemas.NewTopics("")
	e, err := kafka.StartEmbedded(kafka.EmbeddedConfig{Partitions: 4, Topics: topics.All()})
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Println(strings.Join(e.Addrs(), ","))
	<-ctx.Done()
	return nil
}

func runImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import", flag.ExitOnError)
	brokers := fs.String("brokers", "", "broker addresses")
	file := fs.String("file", "/tmp/users.csv", "CSV file")
	redisURL := fs.String("redis", "redis://127.0.0.1:6379/0", "Redis URL")
	batch := fs.Int("batch", csvimport.DefaultConfig().BatchSize, "rows per batch")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile")
	_ = fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ts, err := config.NewTenants([]config.Tenant{{ID: "loadtest", APIKeys: []string{"loadtest-key"}}})
	if err != nil {
		return err
	}
	rdb, err := redisx.Connect(ctx, *redisURL)
	if err != nil {
		return err
	}
	cl, err := kafka.NewClient(kafka.ClientConfig{Brokers: strings.Split(*brokers, ",")})
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg := csvimport.DefaultConfig()
	cfg.Namespace = fmt.Sprintf("loadtest%d", time.Now().UnixNano())
	cfg.BatchSize = *batch
	svc, err := csvimport.New(cfg, csvimport.Deps{
		Tenants: ts, Redis: rdb, Publisher: ingest.NewPublisher(cl, schemas.NewTopics(""), "import"),
		Schema: propschema.NewValidator(nil), Log: zerolog.Nop(),
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	start := time.Now()
	code := cli.RunCLI(ctx, []string{"--file", *file, "--server", "http://" + ln.Addr().String(), "--api-key", "loadtest-key",
		"--tag", "loadtest", "--progress-interval", "10s"}, os.Stdout, os.Stderr)
	elapsed := time.Since(start)
	fi, _ := os.Stat(*file)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("exit %d; file %.0f MiB in %s; CPU %s (importer process, server and client); peak RSS %s\n",
		code, float64(fi.Size())/(1<<20), elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), peakRSS())
	// Clean up the job keys of this run.
	return redisx.UnlinkMatching(ctx, rdb, cfg.Namespace+":*")
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}
