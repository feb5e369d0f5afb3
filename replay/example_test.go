package replay_test

import (
	"fmt"

	"github.com/user360/user360/replay"
)

// The generations of the derived state and their consumer groups.
func ExampleNextNamespace() {
	live := "u360" // no u360:generation key yet: generation 1
	next := replay.NextNamespace("", live)
	fmt.Println(next, replay.GenerationNumber("", next))
	fmt.Println(replay.GroupFor("user360-identity", "", live))
	fmt.Println(replay.GroupFor("user360-identity", "", next))
	fmt.Println(replay.NextNamespace("", next), replay.GenerationKey(""))
	// Output:
	// u360g2 2
	// user360-identity
	// user360-identity.u360g2
	// u360g3 u360:generation
}
