package presets

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tripswitch/tripswitch/cb"
)

// names maps the presets' names, as ByName and FromJSON take them, to
// the presets.
var names = map[string]func() cb.Config{
	"api":      API,
	"database": Database,
	"network":  Network,
}

// ByName returns the preset named name: "api", "database" or "network";
// "" names cb's defaults, the zero Config. Any other name is an error
// listing those.
func ByName(name string) (cb.Config, error) {
	if name == "" {
		return cb.Config{}, nil
	}
	if f, ok := names[name]; ok {
		return f(), nil
	}
	return cb.Config{}, fmt.Errorf("tripswitch: presets: no preset named %s (there are \"api\", \"database\" and \"network\")", strconv.Quote(name))
}

// FromJSON returns the Config a JSON object describes, for configuration
// files: the preset its "preset" key names (see ByName; none means cb's
// defaults) with its other keys, cb.Config's JSON, set over it:
//
//	{"preset": "api", "open_timeout": "30s", "shadow": true}
//
// A file holds no funcs: set IsFailure, IsIgnored, TripRule and
// OnStateChange on the result before New or Reconfigure. The values are
// checked there, not here; a key that is not a field, or a value of the
// wrong form, is an error here.
func FromJSON(data []byte) (cb.Config, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return cb.Config{}, fmt.Errorf("tripswitch: presets: a config must be a JSON object: %w", err)
	}
	var name string
	if raw, ok := obj["preset"]; ok {
		if err := json.Unmarshal(raw, &name); err != nil {
			return cb.Config{}, fmt.Errorf("tripswitch: presets: \"preset\" must be a string, not %s", raw)
		}
		delete(obj, "preset")
	}
	cfg, err := ByName(name)
	if err != nil {
		return cb.Config{}, err
	}
	rest, err := json.Marshal(obj)
	if err != nil {
		return cb.Config{}, err
	}
	if err := json.Unmarshal(rest, &cfg); err != nil {
		return cb.Config{}, err
	}
	return cfg, nil
}
