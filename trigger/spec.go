package trigger

// Spec is the user-facing trigger definition, exactly as it appears in the
// schedule JSON of the HTTP API. Exactly one of Cron, Every or At is set;
// Timezone is only meaningful with Cron (IANA name, default "UTC").
type Spec struct {
	Cron     string `json:"cron,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	Every    string `json:"every,omitempty"`
	At       string `json:"at,omitempty"`
}

// Kind reports which trigger kind the spec uses: "cron", "every", "at", or
// "" when none is set.
func (s Spec) Kind() string {
	switch {
	case s.Cron != "":
		return "cron"
	case s.Every != "":
		return "every"
	case s.At != "":
		return "at"
	}
	return ""
}
