package main

import (
	"context"
	"fmt"
	"io"
)

// runImport runs the CSV import client.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "user360 import: not wired yet")
	return 2
}
