package cbredis

import (
	"strings"
	"unicode/utf8"
)

// baseKey is the key every key of the breaker named name starts with:
// prefix:{escaped name}. The braces make the escaped name the Redis
// Cluster hash tag, so that all of a breaker's keys live in one slot and
// each script runs on one node.
//
// The name is escaped so that no name can end the hash tag early or
// reach into another breaker's keys: '{', '}', ':', '%', spaces,
// control characters and invalid UTF-8 become %XX, byte by byte.
func baseKey(prefix, name string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(name) + 4)
	b.WriteString(prefix)
	b.WriteString(":{")
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size <= 1 || needsEscape(r) {
			for j := range size {
				writeEscaped(&b, name[i+j])
			}
		} else {
			b.WriteString(name[i : i+size])
		}
		i += max(size, 1)
	}
	b.WriteString("}")
	return b.String()
}

func needsEscape(r rune) bool {
	return r <= ' ' || r == 0x7f || r == '{' || r == '}' || r == ':' || r == '%' || (r >= 0x80 && r < 0xa0)
}

func writeEscaped(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}

// eventsChannel is the pub/sub channel on which the breaker whose base
// key is base announces each new generation of its record.
func eventsChannel(base string) string { return base + ":events" }
