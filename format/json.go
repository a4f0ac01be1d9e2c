package format

// newJSON returns a Parser for one source.
func newJSON() Parser { return notYet("json") }
