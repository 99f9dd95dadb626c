package cb

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"
)

// Config's JSON is for configuration files: an object of its value fields
// with snake_case keys, as Metrics uses. Durations are Go duration
// strings ("10s", "1m30s"); Off is the string "off" (a reader also takes
// Off's own value, -1 or "-1ns"); a field left zero is left out, and a
// key left out means zero, the default. The func fields and Clock have no
// JSON: a file cannot hold code.

// jsonField is one value field of Config in JSON: get returns its JSON
// value, nil when the field is zero; set decodes raw into it (off: raw
// is "off").
type jsonField struct {
	key, name string // the JSON key and the Go field
	off       bool   // takes Off
	get       func(c *Config) any
	set       func(c *Config, raw json.RawMessage, off bool) error
}

// value is v as JSON gives it: nil when zero, "off" when Off (for a field
// that takes it), v otherwise.
func value[N int | float64 | time.Duration](v N, off bool) any {
	switch {
	case v == 0:
		return nil
	case off && v == Off:
		return "off"
	}
	if d, ok := any(v).(time.Duration); ok {
		return d.String()
	}
	return v
}

func durationField(key, name string, off bool, f func(c *Config) *time.Duration) jsonField {
	return jsonField{
		key: key, name: name, off: off,
		get: func(c *Config) any { return value(*f(c), off) },
		set: func(c *Config, raw json.RawMessage, isOff bool) error {
			if isOff {
				*f(c) = Off
				return nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return errors.New("must be a duration string such as \"10s\"")
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return errors.New("must be a duration string such as \"10s\"")
			}
			*f(c) = d
			return nil
		},
	}
}

// numberField is a field of Config holding an int or a float64; what
// names the kind of JSON value it takes, for the error.
func numberField[N int | float64](key, name string, off bool, what string, f func(c *Config) *N) jsonField {
	return jsonField{
		key: key, name: name, off: off,
		get: func(c *Config) any { return value(*f(c), off) },
		set: func(c *Config, raw json.RawMessage, isOff bool) error {
			if isOff {
				*f(c) = Off
				return nil
			}
			if err := json.Unmarshal(raw, f(c)); err != nil {
				return errors.New("must be " + what)
			}
			return nil
		},
	}
}

func intField(key, name string, off bool, f func(c *Config) *int) jsonField {
	return numberField(key, name, off, "an integer", f)
}

func rateField(key, name string, f func(c *Config) *float64) jsonField {
	return numberField(key, name, true, "a number", f)
}

// jsonFields lists Config's value fields in declaration order.
var jsonFields = []jsonField{
	durationField("window", "Window", false, func(c *Config) *time.Duration { return &c.Window }),
	intField("buckets", "Buckets", false, func(c *Config) *int { return &c.Buckets }),
	intField("window_calls", "WindowCalls", false, func(c *Config) *int { return &c.WindowCalls }),
	intField("minimum_calls", "MinimumCalls", false, func(c *Config) *int { return &c.MinimumCalls }),
	rateField("failure_rate_threshold", "FailureRateThreshold", func(c *Config) *float64 { return &c.FailureRateThreshold }),
	intField("consecutive_failures", "ConsecutiveFailures", true, func(c *Config) *int { return &c.ConsecutiveFailures }),
	durationField("slow_call_duration", "SlowCallDuration", true, func(c *Config) *time.Duration { return &c.SlowCallDuration }),
	rateField("slow_call_rate_threshold", "SlowCallRateThreshold", func(c *Config) *float64 { return &c.SlowCallRateThreshold }),
	durationField("open_timeout", "OpenTimeout", false, func(c *Config) *time.Duration { return &c.OpenTimeout }),
	durationField("max_open_timeout", "MaxOpenTimeout", false, func(c *Config) *time.Duration { return &c.MaxOpenTimeout }),
	intField("success_threshold", "SuccessThreshold", false, func(c *Config) *int { return &c.SuccessThreshold }),
	intField("half_open_max_calls", "HalfOpenMaxCalls", false, func(c *Config) *int { return &c.HalfOpenMaxCalls }),
	durationField("half_open_timeout", "HalfOpenTimeout", false, func(c *Config) *time.Duration { return &c.HalfOpenTimeout }),
	{
		key: "shadow", name: "Shadow",
		get: func(c *Config) any {
			if !c.Shadow {
				return nil
			}
			return true
		},
		set: func(c *Config, raw json.RawMessage, _ bool) error {
			if err := json.Unmarshal(raw, &c.Shadow); err != nil {
				return errors.New("must be true or false")
			}
			return nil
		},
	},
}

// MarshalJSON encodes the value fields of c that are not zero, in
// declaration order (see the package documentation of the format). The
// func fields and Clock are left out.
func (c Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for _, f := range jsonFields {
		v := f.get(&c)
		if v == nil {
			continue
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(f.key))
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON sets the fields of c that data names, leaving the others,
// the func fields and Clock as they are: decode a file over a Config that
// holds the funcs your code sets (or over a preset) and only the values
// the file has change. A null leaves its field alone, as encoding/json
// does. A key that is not a field, or a value of the wrong form, is an
// error naming the field (matching ErrInvalidConfig), and c is left
// unchanged. Values are checked by New and Reconfigure, not here.
func (c *Config) UnmarshalJSON(data []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return &ConfigError{Field: "JSON", Value: string(data), Reason: "must be an object: " + err.Error()}
	}
	next := *c
	var errs []error
	for _, f := range jsonFields {
		raw, ok := obj[f.key]
		if !ok || string(raw) == "null" {
			continue
		}
		delete(obj, f.key)
		off := f.off && string(raw) == `"off"`
		if err := f.set(&next, raw, off); err != nil {
			reason := err.Error()
			if f.off {
				reason += ", or \"off\""
			}
			errs = append(errs, &ConfigError{Field: f.name, Value: string(raw), Reason: reason})
		}
	}
	unknown := make([]string, 0, len(obj))
	for k := range obj {
		if !slices.ContainsFunc(jsonFields, func(f jsonField) bool { return f.key == k }) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, &ConfigError{Field: k, Value: string(obj[k]), Reason: "is not a field of a Config's JSON"})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*c = next
	return nil
}
