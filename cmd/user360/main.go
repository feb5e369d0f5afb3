package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `user360: a real-time customer data platform

Usage:
  user360 dev     [flags]   run every role in one process (embedded Kafka and Redis)
  user360 serve   [flags]   run chosen roles against real Kafka and Redis
  user360 import  [flags]   import a CSV of users into a running server
  user360 replay  [flags]   rebuild profiles and segments from the log into a new generation
  user360 load    [flags]   send benchmark traffic to a local gateway
  user360 version

Run "user360 <command> -h" for the flags of a command.
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	startPprof()
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	tuneGC(args[0])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], stdout, stderr)
	case "serve":
		err = runServe(ctx, args[1:], stderr)
	case "load":
		err = runLoad(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "replay":
		err = runReplay(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "user360", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "user360: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "user360:", err)
		return 1
	}
	return 0
}
