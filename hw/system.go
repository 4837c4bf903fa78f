package hw

// Group returns the group with the given name, or nil.
func (s *System) Group(name string) *Group {
	for i := range s.Groups {
		if s.Groups[i].Name == name {
			return &s.Groups[i]
		}
	}
	return nil
}

// Primary is the group that runs the model: Accelerator, or the first group.
func (s *System) Primary() *Group {
	if s.Accelerator != "" {
		if g := s.Group(s.Accelerator); g != nil {
			return g
		}
	}
	return &s.Groups[0]
}

// HostGroup is the host CPU group, or nil when the system has none.
func (s *System) HostGroup() *Group {
	if s.Host == "" {
		return nil
	}
	return s.Group(s.Host)
}

// LinkBetween returns the link joining groups a and b (in either order), or
// nil.
func (s *System) LinkBetween(a, b string) *Link {
	for i := range s.Links {
		l := &s.Links[i]
		if (l.Between[0] == a && l.Between[1] == b) || (l.Between[0] == b && l.Between[1] == a) {
			return l
		}
	}
	return nil
}
