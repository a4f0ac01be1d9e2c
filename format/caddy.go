package format

// newCaddy returns a Parser for one source.
func newCaddy() Parser { return notYet("caddy") }
