package schemas_test

import (
	"fmt"

	"github.com/user360/user360/schemas"
)

func ExampleNewTopics() {
	t := schemas.NewTopics("")
	fmt.Println(t.Events)
	fmt.Println(string(schemas.Key("demo", "42")))
	// Output:
	// user360.events
	// demo/42
}
