package format

// newALB returns a Parser for one source.
func newALB() Parser { return notYet("alb") }
