package cli_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/user360/user360/ingest/csvimport/cli"
)

func ExampleRunCLI() {
	// Without --file the command prints its usage and exits with 2.
	code := cli.RunCLI(context.Background(), []string{"import", "--api-key", "k"}, os.Stdout, io.Discard)
	fmt.Println("exit", code)
	// Output: exit 2
}
