// Package record owns Record, one access-log line as weblogd carries it.
//
// Every package that handles records imports record; record imports
// nothing of weblogd.
//
// A Record is a plain value; once it is in the broadcast Ring it is
// shared by every subscriber and must not be changed.
package record
