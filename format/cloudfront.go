package format

// newCloudFront returns a Parser for one source.
func newCloudFront() Parser { return notYet("cloudfront") }
