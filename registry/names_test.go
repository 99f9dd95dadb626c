package registry_test

import (
	"encoding/json"
	"expvar"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// Names that are not valid UTF-8 are refused: encoding/json would turn
// each of "\xff" and "\xfe" into the key "\ufffd", showing operators one
// breaker where there are two (or three, with a breaker named "\ufffd").
func TestGetInvalidUTF8NameFails(t *testing.T) {
	r := registry.New()
	cfg := cb.Config{Clock: cbtest.NewClock()}
	for _, name := range []string{"\xff", "\xfe", "db-\xc3", "\xed\xa0\x80" /* a UTF-16 surrogate */} {
		b, err := registry.Get[int](r, name, cfg)
		require.ErrorIs(t, err, registry.ErrInvalidName, "%q", name)
		assert.Nil(t, b)
		assert.Equal(t, "tripswitch: registry: invalid breaker name: "+strconv.Quote(name)+" is not valid UTF-8", err.Error())

		w, err := registry.Wrap(r, name, cfg, ok)
		require.ErrorIs(t, err, registry.ErrInvalidName, "%q", name)
		assert.Nil(t, w)
	}
	assert.Empty(t, r.Names())
}

// Every valid name, however odd, is one key in the JSON of Handler and
// Var, and reads back as itself.
func TestReportKeysAreTheNames(t *testing.T) {
	r := registry.New()
	cfg := cb.Config{Clock: cbtest.NewClock()}
	names := []string{
		"\ufffd",                  // the replacement character itself
		"caf\u00e9", "cafe\u0301", // two spellings of one word are two names
		"<script>&", `quote"back\slash`, "tab\tnew\nline", "\x00nul",
		"line\u2028separator", "emoji-\U0001F600",
	}
	for _, n := range names {
		_, err := registry.Get[int](r, n, cfg)
		require.NoError(t, err, "%q", n)
	}
	for _, n := range []string{"\xff", "\xfe"} {
		_, err := registry.Get[int](r, n, cfg)
		require.ErrorIs(t, err, registry.ErrInvalidName)
	}

	keysOf := func(t *testing.T, body []byte) []string {
		t.Helper()
		var rep map[string]map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &rep))
		return keys(rep["circuits"])
	}
	t.Run("Handler", func(t *testing.T) {
		resp := serve(t, r.Handler(), "GET")
		assert.ElementsMatch(t, names, keysOf(t, resp.body))
	})
	t.Run("Var", func(t *testing.T) {
		assert.ElementsMatch(t, names, keysOf(t, []byte(r.Var().String())))
		published := "registry_test.TestReportKeysAreTheNames." + strconv.FormatInt(varRuns.Inc(), 10)
		expvar.Publish(published, r.Var())
		assert.ElementsMatch(t, names, keysOf(t, []byte(expvar.Get(published).String())))
	})
}
