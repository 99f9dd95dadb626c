package cbredis

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBaseKeyEscapesWhatWouldBreakTheHashTag(t *testing.T) {
	for name, want := range map[string]string{
		"payments":       "ts:{payments}",
		"api.example/v1": "ts:{api.example/v1}",
		"a{b}c":          "ts:{a%7Bb%7Dc}",
		"host:443":       "ts:{host%3A443}",
		"50%":            "ts:{50%25}",
		"two words":      "ts:{two%20words}",
		"tab\there":      "ts:{tab%09here}",
		"café":           "ts:{café}",
		"bad\xffutf8":    "ts:{bad%FFutf8}",
		"":               "ts:{}",
	} {
		assert.Equal(t, want, baseKey("ts", name), "name %q", name)
	}
}

func TestBaseKeysOfDistinctNamesNeverCollide(t *testing.T) {
	names := []string{"a", "a:", "a%3A", "a%", "{a}", "%7Ba%7D", "a b", "a%20b", "a}:{b", "\xff", "%FF"}
	seen := map[string]string{}
	for _, n := range names {
		k := baseKey("p", n)
		if prev, ok := seen[k]; ok {
			t.Fatalf("%q and %q share the key %q", prev, n, k)
		}
		seen[k] = n
		// Exactly one hash tag: the first '{' and the first '}' after it.
		open := strings.IndexByte(k, '{')
		assert.Equal(t, len(k)-1, open+1+strings.IndexByte(k[open+1:], '}'), "the tag runs to the end of %q", k)
	}
}
