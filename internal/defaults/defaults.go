package defaults

// Set replaces *v with def when *v is the zero value.
func Set[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
