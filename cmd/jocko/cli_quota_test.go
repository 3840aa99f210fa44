package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIQuota drives `jocko quota set|list|delete` against a real broker:
// values set show in the table and in JSON (the default entity as null),
// a bad key is refused with the broker's message and exit 1, and delete
// removes one key or all of an entity's.
func TestCLIQuota(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	br := "--brokers=" + b.addr
	for _, s := range []struct {
		args []string
		want string
	}{
		{[]string{"quota", "set", "--client-id", "X", "--set", "producer_byte_rate=1048576,consumer_byte_rate=2048", br}, "set producer_byte_rate=1048576,consumer_byte_rate=2048 for {client-id=X}"},
		{[]string{"quota", "set", "--user-default", "--set", "request_percentage=12.5", br}, "for {user=<default>}"},
		{[]string{"quota", "list", br}, "producer_byte_rate  1048576"},
		{[]string{"quota", "delete", "--client-id", "X", "--keys", "consumer_byte_rate", br}, "deleted consumer_byte_rate for {client-id=X}"},
	} {
		code, out, errOut := runCLI(s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("jocko %s: exit %d, %q %q; want %q", strings.Join(s.args, " "), code, out, errOut, s.want)
		}
	}
	code, out, _ := runCLI("quota", "list", "--format", "json", br)
	var rows []listedQuota
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 2 {
		t.Fatalf("quota list --format json: exit %d, %v, %q", code, err, out)
	}
	for _, r := range rows {
		if x, ok := r.Entity["client-id"]; ok && (x == nil || *x != "X" || len(r.Values) != 1 || r.Values["producer_byte_rate"] != 1048576) {
			t.Fatalf("client-id X row: %+v", r)
		}
		if u, ok := r.Entity["user"]; ok && (u != nil || r.Values["request_percentage"] != 12.5) {
			t.Fatalf("default user row: %+v", r)
		}
	}
	code, _, errOut := runCLI("quota", "set", "--client-id", "X", "--set", "bogus=1", br)
	if code != 1 || !strings.Contains(errOut, "INVALID_REQUEST") || !strings.Contains(errOut, `unknown quota key "bogus"`) {
		t.Fatalf("bad key: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("quota", "set", "--set", "producer_byte_rate=1", br); code != 2 || !strings.Contains(errOut, "name an entity") {
		t.Fatalf("no entity: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCLI("quota", "delete", "--user-default", br); code != 0 || !strings.Contains(out, "deleted request_percentage") {
		t.Fatalf("delete all of the default user: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI("quota", "list", "--format", "json", br); code != 0 || strings.Contains(out, "request_percentage") {
		t.Fatalf("after deleting: exit %d, %q", code, out)
	}
}
