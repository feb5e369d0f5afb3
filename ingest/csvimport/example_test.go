package csvimport_test

import (
	"fmt"

	"github.com/user360/user360/ingest/csvimport"
)

func ExampleParseMapping() {
	m, err := csvimport.ParseMapping([]string{"Phone Number=phone", "Internal Notes=-"})
	fmt.Println(m["Phone Number"], m["Internal Notes"], err)
	// Output: phone - <nil>
}
