package cbprom_test

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cbprom"
)

// The dashboard asks only for families the Collector exports, and shows
// every one of them.
func TestDashboardUsesExportedFamilies(t *testing.T) {
	raw, err := os.ReadFile("grafana/tripswitch.json")
	require.NoError(t, err)
	var dash any
	require.NoError(t, json.Unmarshal(raw, &dash))

	reg, _ := scripted(t) // a breaker of every kind: every family has series
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(cbprom.New(reg)))
	fams, err := pr.Gather()
	require.NoError(t, err)
	exported := map[string]bool{}
	for _, mf := range fams {
		exported[mf.GetName()] = true
	}

	exprs := dashboardQueries(dash)
	require.NotEmpty(t, exprs)
	used := map[string]bool{}
	for _, e := range exprs {
		names := metricNames(e)
		assert.NotEmpty(t, names, "a query that names no metric: %s", e)
		for _, n := range names {
			assert.True(t, exported[n], "%s is not exported; in %s", n, e)
			used[n] = true
		}
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(exported)), slices.Collect(maps.Keys(used)), "every family is on the dashboard")
}

// labelValues is Grafana's variable query label_values(selector, label):
// only its selector is PromQL.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`)

// dashboardQueries returns the PromQL of every panel target and variable
// of a dashboard, at any depth (rows may nest panels).
func dashboardQueries(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch s, isString := x.(string); {
			case k == "expr" && isString:
				out = append(out, s)
			case k == "definition" && isString:
				if m := labelValues.FindStringSubmatch(s); m != nil {
					out = append(out, m[1])
				}
			default:
				out = append(out, dashboardQueries(x)...)
			}
		}
	case []any:
		for _, x := range v {
			out = append(out, dashboardQueries(x)...)
		}
	}
	return out
}

// promqlWords are identifiers that are PromQL, not metric names:
// operators, modifiers, and the aggregations, which may come before their
// parenthesis with a by or without clause in between. The keywords whose
// parenthesised lists hold label names are in labelLists.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"start": true, "end": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

var labelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the metric names a PromQL expression reads: the
// identifiers left once strings, label matchers ({...}), ranges ([...]),
// Grafana variables ($name, ${name}), numbers, function names (an
// identifier before "("), keywords and the label lists of by, without,
// on, ignoring and group_left/right are set aside. It is no parser, only
// enough of one for the dashboard's queries, which it is tested on.
func metricNames(expr string) []string {
	var names []string
	rs := []rune(expr)
	skipTo := func(i int, closing rune) int { // the index after the closing rune, strings skipped
		for i < len(rs) && rs[i] != closing {
			if rs[i] == '"' || rs[i] == '\'' || rs[i] == '`' {
				i = skipString(rs, i)
				continue
			}
			i++
		}
		return i + 1
	}
	isIdent := func(r rune, first bool) bool {
		return r == '_' || r == ':' || unicode.IsLetter(r) || !first && unicode.IsDigit(r)
	}
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '"' || r == '\'' || r == '`':
			i = skipString(rs, i)
		case r == '{':
			i = skipTo(i+1, '}')
		case r == '[':
			i = skipTo(i+1, ']')
		case r == '$':
			i++
			if i < len(rs) && rs[i] == '{' {
				i = skipTo(i+1, '}')
			}
			for i < len(rs) && isIdent(rs[i], false) {
				i++
			}
		case unicode.IsDigit(r) || r == '.':
			for i < len(rs) && (isIdent(rs[i], false) || rs[i] == '.') { // 2, 1.5, 1e3, 5m
				i++
			}
		case isIdent(r, true):
			j := i
			for j < len(rs) && isIdent(rs[j], false) {
				j++
			}
			word := string(rs[i:j])
			k := j
			for k < len(rs) && unicode.IsSpace(rs[k]) {
				k++
			}
			nextParen := k < len(rs) && rs[k] == '('
			switch {
			case labelLists[strings.ToLower(word)] && nextParen:
				j = skipTo(k+1, ')')
			case labelLists[strings.ToLower(word)], promqlWords[strings.ToLower(word)], nextParen:
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// skipString returns the index after the string literal starting at i.
func skipString(rs []rune, i int) int {
	quote := rs[i]
	for i++; i < len(rs) && rs[i] != quote; i++ {
		if rs[i] == '\\' && quote != '`' {
			i++
		}
	}
	return i + 1
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (name, outcome) (rate(a_total{name=~"$name", x="}{by (z)"}[$__rate_interval]))`, []string{"a_total"}},
		{`b / on (name) group_left (to) c_seconds * 2 + 1.5e3`, []string{"b", "c_seconds"}},
		{`max without(instance)(d offset 5m) > bool 0 or vector(0) and e unless f`, []string{"d", "e", "f"}},
		{`increase(g[${__range}]) > 0 and on(name) h{state='open'} == 1`, []string{"g", "h"}},
		{`histogram_quantile(0.9, sum by (le) (rate(i_bucket[5m])))`, []string{"i_bucket"}},
		{`count(j:recorded:rate5m)`, []string{"j:recorded:rate5m"}},
	} {
		assert.Equal(t, tc.want, metricNames(tc.expr), tc.expr)
	}
}
