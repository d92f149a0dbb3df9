package export

import (
	"encoding/json"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/wardenproject/warden/audit"
)

// OCSFVersion is the OCSF schema version the mapping follows.
const OCSFVersion = "1.1.0"

// payload renders one entry in the sink's format.
func payload(format string, e audit.Entry) ([]byte, error) {
	if format == "ocsf" {
		return json.Marshal(OCSF(e))
	}
	return e.Raw, nil // the canonical bytes, exactly as hashed
}

// OCSF maps an event to an OCSF 1.1 event: File System Activity (1001) for
// fs.* actions, Network Activity (4001) for net.* and http.*, API Activity
// (6003) for everything else. docs/audit-format.md lists every field.
func OCSF(e audit.Entry) map[string]any {
	ev := e.Event
	verb := ev.Action
	if i := strings.LastIndexByte(verb, '.'); i >= 0 {
		verb = verb[i+1:]
	}
	family, _, _ := strings.Cut(ev.Action, ".")
	var classUID, categoryUID, activityID int
	var className, categoryName, activityName string
	m := map[string]any{}
	switch family {
	case "fs":
		classUID, className, categoryUID, categoryName = 1001, "File System Activity", 1, "System Activity"
		activityID, activityName = fsActivity(verb)
		p := strings.TrimPrefix(ev.Resource, "filesystem:")
		m["file"] = map[string]any{"path": p, "name": path.Base(p), "type_id": 0}
	case "net", "http":
		classUID, className, categoryUID, categoryName = 4001, "Network Activity", 4, "Network Activity"
		activityID, activityName = 6, "Traffic"
		if ev.Decision.Effect == audit.EffectDeny {
			activityID, activityName = 5, "Refuse"
		}
		raw := strings.TrimPrefix(ev.Resource, "net:")
		dst := map[string]any{}
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			dst["hostname"] = u.Hostname()
			if port, err := strconv.Atoi(u.Port()); err == nil {
				dst["port"] = port
			} else if u.Scheme == "https" {
				dst["port"] = 443
			} else if u.Scheme == "http" {
				dst["port"] = 80
			}
		}
		m["dst_endpoint"] = dst
	default:
		classUID, className, categoryUID, categoryName = 6003, "API Activity", 6, "Application Activity"
		activityID, activityName = apiActivity(verb)
	}
	status, statusID := "Success", 1
	switch {
	case ev.Outcome == audit.OutcomeIntent:
		status, statusID = "Unknown", 0
	case ev.Outcome == audit.OutcomeError || ev.Decision.Effect == audit.EffectDeny && ev.Decision.Answer != audit.EffectAllow:
		status, statusID = "Failure", 2
	}
	severityID, severity := 1, "Informational"
	if statusID == 2 {
		severityID, severity = 3, "Medium"
	}
	actionID, action := 0, "Unknown"
	switch effective(ev.Decision) {
	case audit.EffectAllow:
		actionID, action = 1, "Allowed"
	case audit.EffectDeny:
		actionID, action = 2, "Denied"
	}
	m["class_uid"], m["class_name"] = classUID, className
	m["category_uid"], m["category_name"] = categoryUID, categoryName
	m["activity_id"], m["activity_name"] = activityID, activityName
	m["type_uid"] = classUID*100 + activityID
	m["type_name"] = className + ": " + activityName
	m["time"] = ev.Time.UnixMilli()
	m["severity_id"], m["severity"] = severityID, severity
	m["status_id"], m["status"] = statusID, status
	m["action_id"], m["action"] = actionID, action
	m["disposition_id"] = actionID
	m["message"] = strings.TrimSpace(ev.Action + " " + ev.Resource)
	if ev.Error != nil {
		m["status_code"], m["status_detail"] = ev.Error.Code, ev.Error.Message
	}
	if ev.DurationNS > 0 {
		m["duration"] = ev.DurationNS / 1e6
	}
	m["metadata"] = map[string]any{
		"version":  OCSFVersion,
		"uid":      ev.ID,
		"sequence": e.Index,
		"log_name": "warden.audit",
		"product":  map[string]any{"name": "warden", "vendor_name": "warden"},
	}
	actor := map[string]any{}
	if ev.Actor.Plugin != "" {
		actor["app_name"] = ev.Actor.Plugin
		actor["app_uid"] = ev.Actor.Plugin + "@" + ev.Actor.Version
	}
	if ev.Session != "" {
		actor["session"] = map[string]any{"uid": ev.Session}
	}
	m["actor"] = actor
	m["api"] = map[string]any{"operation": ev.Action, "service": map[string]any{"name": "warden"}}
	if ev.Decision.By != "" {
		m["policy"] = map[string]any{"uid": ev.Decision.By, "desc": ev.Decision.Reason}
	}
	unmapped := map[string]any{"outcome": ev.Outcome}
	for k, v := range map[string]string{"publisher": ev.Actor.Publisher, "version": ev.Actor.Version, "instance": ev.Instance,
		"cap_hash": ev.CapHash, "before_hash": ev.BeforeHash, "after_hash": ev.AfterHash, "resource": ev.Resource,
		"decision_effect": ev.Decision.Effect, "decision_answer": ev.Decision.Answer} {
		if v != "" {
			unmapped[k] = v
		}
	}
	if ev.Bytes > 0 {
		unmapped["bytes"] = ev.Bytes
	}
	if len(ev.Detail) > 0 {
		unmapped["detail"] = ev.Detail
	}
	m["unmapped"] = unmapped
	return m
}

// effective is what finally happened: the person's answer for ask, else the effect.
func effective(d audit.Decision) string {
	if d.Effect == audit.EffectAsk {
		return d.Answer
	}
	return d.Effect
}

func fsActivity(verb string) (int, string) {
	switch verb {
	case "create", "mkdir":
		return 1, "Create"
	case "read", "list", "readdir":
		return 2, "Read"
	case "write", "append", "truncate":
		return 3, "Update"
	case "delete", "remove", "rmdir", "unlink":
		return 4, "Delete"
	case "rename", "move":
		return 5, "Rename"
	case "stat":
		return 8, "Get Attributes"
	case "open":
		return 14, "Open"
	}
	return 99, "Other"
}

func apiActivity(verb string) (int, string) {
	switch verb {
	case "create", "install", "grant", "key.create", "write", "set", "put":
		return 1, "Create"
	case "read", "get", "list", "call", "invoke":
		return 2, "Read"
	case "update", "load", "rotate", "config":
		return 3, "Update"
	case "delete", "revoke", "uninstall", "remove":
		return 4, "Delete"
	}
	return 99, "Other"
}
