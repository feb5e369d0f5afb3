package main

import (
	"context"
	"io"

	"github.com/user360/user360/ingest/csvimport/cli"
)

// runImport runs the CSV import client (`user360 import`).
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.RunCLI(ctx, args, stdout, stderr)
}
