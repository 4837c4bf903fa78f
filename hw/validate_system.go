package hw

import (
	"strconv"
	"strings"
)

var topologies = []string{"", "switch", "ring", "bus"}

// validateSystem checks a decoded system and resolves the devices its groups
// use. raw tells which keys were written (a group without count has one
// device).
func validateSystem(p *problems, s *System, raw map[string]any, src source) {
	if strings.TrimSpace(s.Name) == "" {
		p.add("name", "required: a non-empty system name")
	}
	if len(s.Groups) == 0 {
		p.add("device", "required: at least one [[device]] group (name, use, count)")
	}
	rawGroups := rawArray(raw["device"])
	seen := map[string]int{}
	for i := range s.Groups {
		g := &s.Groups[i]
		k := "device[" + strconv.Itoa(i) + "]"
		switch prev, dup := seen[g.Name]; {
		case strings.TrimSpace(g.Name) == "":
			p.add(k+".name", "required: a non-empty group name")
		case dup:
			p.add(k+".name", "duplicate group name %q (also device[%d])", g.Name, prev)
		default:
			seen[g.Name] = i
		}
		if i < len(rawGroups) && rawGroups[i]["count"] == nil {
			g.Count = 1
		} else {
			countPositive(p, k+".count", g.Count)
		}
		if strings.TrimSpace(g.Use) == "" {
			p.add(k+".use", "required: a built-in device name or a device file path")
			continue
		}
		d, err := resolveUse(g.Use, src)
		if err != nil {
			p.addAt(p.ix.line(k+".use"), k+".use", "cannot load device "+strconv.Quote(g.Use)+": "+err.Error(), err)
			continue
		}
		g.Device = d
	}
	for i, l := range s.Links {
		k := "link[" + strconv.Itoa(i) + "]"
		for _, end := range l.Between {
			if _, ok := seen[end]; !ok {
				p.add(k+".between", "%q names no device group (groups: %s)", end, groupNames(s))
			}
		}
		positive(p, k+".bytes_per_second", l.BytesPerSecond)
		nonNegative(p, k+".latency_seconds", l.LatencySeconds)
		if !contains(topologies, l.Topology) {
			p.add(k+".topology", "unknown topology %q (known: switch, ring, bus, or empty for point-to-point)", l.Topology)
		}
		validateCurve(p, k+".size_curve", l.SizeCurve)
	}
	for _, r := range []struct{ key, name string }{{"host", s.Host}, {"accelerator", s.Accelerator}} {
		if _, ok := seen[r.name]; r.name != "" && !ok {
			p.add(r.key, "%q names no device group (groups: %s)", r.name, groupNames(s))
		}
	}
}

func rawArray(v any) []map[string]any {
	switch a := v.(type) {
	case []map[string]any:
		return a
	case []any:
		out := make([]map[string]any, 0, len(a))
		for _, e := range a {
			m, _ := e.(map[string]any)
			out = append(out, m)
		}
		return out
	}
	return nil
}

func groupNames(s *System) string {
	names := make([]string, 0, len(s.Groups))
	for _, g := range s.Groups {
		names = append(names, strconv.Quote(g.Name))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
