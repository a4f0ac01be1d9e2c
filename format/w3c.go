package format

// newW3C returns a Parser for one source.
func newW3C() Parser { return notYet("w3c") }
