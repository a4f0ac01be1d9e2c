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
//     Joins, leaves and flushes are all serialised by that loop. Its
//     pacer (pacer.go) decides when it flushes: every record at once
//     while that is cheap, else flushes spaced to a budget of writes a
//     second, never further apart than HubConfig.Tick. A subscriber that
//     stays behind for longer than HubConfig.SlowTimeout is ended there
//     too, with ReasonSlow, and its queue released at once.
//   - A Subscription is drained by one goroutine at a time (its writer)
//     with Take, after a signal on Ready, or, with SubscribeOptions.Notify,
//     after the hub called Notify (from the loop, never blocking: the
//     transports start a writer only then). Close may be called from
//     anywhere.
//   - Publish wakes the loop unless a flush is already armed. It waits
//     for the loop only when half the ring or half a queue is pending,
//     and during a burst for the subscribers whose writers are draining
//     a queue more than half full, at most 50 ms each time. With
//     HubConfig.Gather, the loop asks the producers for what is on its
//     way just before each spaced flush.
//   - The operator's handles are safe from any goroutine: List,
//     Disconnect and End (a registry under its own mutex, beside the loop's set),
//     SetTick and SetSlowTimeout (atomics the loop reads at each use).
//
// The package touches no socket and imports no network package: what a
// subscriber does with its records is the transports' business.
package broadcast
