// Package record owns Record, one access-log line as weblogd carries it,
// and Fields, the table of its fields: each one's JSON key and XML
// attribute, kind, order, when the encoders write it, whether redaction
// masks it and which filter parameter reads it.
//
// Every package that handles records imports record; record imports
// nothing of weblogd.
//
// The encoders (XML and JSON in transports, the NATS wire form in fleet),
// the filter and redaction stay hand-written, for speed. This package's
// test sets every field of a Record by reflection, so a new field is in
// it without a word, and checks each of them against Fields: a field that
// an encoder, the wire form or redaction forgets fails it. Adding a field
// means adding it to Record and to Fields, filling it in the parsers, and
// then what the test names.
//
// Record and Fields are plain values: a Record in the broadcast Ring is
// shared by every subscriber and must not be changed, and Fields is
// never written.
package record
