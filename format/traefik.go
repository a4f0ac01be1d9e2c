package format

// newTraefik returns a Parser for one source.
func newTraefik() Parser { return notYet("traefik") }
