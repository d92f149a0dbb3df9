package pdk

import "time"

// Capability is a capability token the host minted for this instance on
// request. Its facades present this token and no other, so a call made through
// them is checked against exactly this grant.
type Capability struct {
	Token     string    `json:"token"`
	ID        string    `json:"id,omitempty"`
	Resource  string    `json:"resource"`
	Actions   []string  `json:"actions"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RequestCapability asks the host for a capability on resource (for example
// "filesystem:/home/u/Documents/Spreadsheets/**") with the given actions,
// giving "requested by tool <name>" as the reason shown to a person asked to
// confirm; RequestCapabilityWithReason says more. The request must lie within
// the plugin's manifest; the policy may allow it, deny it or ask the person at
// the keyboard, so a refusal (ErrDenied, ErrDeclined, ErrNotDeclared) is an
// expected outcome to handle, not a bug.
func RequestCapability(resource string, actions ...string) (*Capability, error) {
	reason := "requested by the plugin"
	if t := currentTool; t != "" {
		reason = "requested by tool " + t
	}
	return RequestCapabilityWithReason(reason, resource, actions...)
}

// RequestCapabilityWithReason is RequestCapability with the reason a person
// sees when the policy asks them to confirm.
func RequestCapabilityWithReason(reason, resource string, actions ...string) (*Capability, error) {
	var c Capability
	params := map[string]any{"resource": resource, "actions": actions, "reason": reason}
	if err := Call("capability.request", params, &c); err != nil {
		return nil, err
	}
	if c.Resource == "" {
		c.Resource = resource
	}
	if c.Actions == nil {
		c.Actions = actions
	}
	return &c, nil
}

// Capabilities lists the capabilities the instance holds, for example to
// find which directory a filesystem grant names.
func Capabilities() ([]Capability, error) {
	var res struct {
		Capabilities []Capability `json:"capabilities"`
	}
	if err := Call("capability.list", nil, &res); err != nil {
		return nil, err
	}
	return res.Capabilities, nil
}

// FS returns a filesystem facade bound to this capability's token.
func (c *Capability) FS() *FSClient { return &FSClient{token: c.Token} }

// Call invokes a host method presenting only this capability's token.
func (c *Capability) Call(method string, params, result any) error {
	return call(c.Token, method, params, result)
}
