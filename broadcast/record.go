package broadcast

import "github.com/weblogd/weblogd/record"

// Record is record.Record, kept under this name for code written when the
// record lived here. New code names record.Record.
type Record = record.Record
