package broadcast

// Interval is interval, for pacer_test.
var Interval = interval
