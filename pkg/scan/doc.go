// Package scan decides, without executing anything, whether loading a model
// file can run code. It holds the report types (Report, Target, Finding,
// Severity), the limits that bound every parser, the user Policy, and the
// dispatcher that recognises formats by content and hands each file, archive
// member or nested byte string to the Format that understands it.
//
// Formats live in subpackages (pickle, torch, numpy, ...) and plug in through
// the Format interface; package all lists the default set.
package scan
