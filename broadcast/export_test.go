package broadcast

// Interval is interval, for pacer_test.
var Interval = interval

// Parts is parts, for pacer_test.
var Parts = parts

// W is writeBudget, for pacer_test and hub_test.
const W = writeBudget
