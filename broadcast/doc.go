// Package broadcast owns the one loop that hands records to subscribers:
// the bounded Ring that numbers records (record.Record) and keeps the
// newest of them for history and resume, and the Hub.
//
// Concurrency contract:
//
//   - Ring is safe for concurrent use: one or more producers Append, the
//     hub and every subscriber read. With a limit (Ring.SetLimit), an
//     Append at the limit waits until whoever set it raises it.
//   - Hub.Run is the only goroutine that offers batches to subscribers. It
//     never blocks on a subscriber: an offer appends to the subscriber's
//     bounded queue under a short mutex and signals it without waiting.
//     Joins, leaves and flushes are all serialised by that loop, which
//     keeps the subscribers in lanes and, when they are many, flushes
//     the lanes in steps across the tick (lanes.go). A
//     subscriber that stays behind for longer than HubConfig.SlowTimeout
//     is ended there too, with ReasonSlow, and its queue released at once.
//   - A Subscription is drained by one goroutine at a time (its writer)
//     with Take, after a signal on Ready, or, with SubscribeOptions.Notify,
//     after the hub called Notify (from the loop, never blocking: the
//     transports start a writer only then). Close may be called from
//     anywhere.
//   - With HubConfig.Gather, the loop asks the producers for what is on
//     its way just before each flush at the end of a busy tick (or of a
//     step of one); Publish
//     need not wake it then. Publish waits for the loop only when half the
//     ring or half a queue is pending.
//   - The operator's handles are safe from any goroutine: List,
//     Disconnect and End (a registry under its own mutex, beside the loop's set),
//     SetTick and SetSlowTimeout (atomics the loop reads at each use).
//
// The package touches no socket and imports no network package: what a
// subscriber does with its records is the transports' business.
package broadcast
