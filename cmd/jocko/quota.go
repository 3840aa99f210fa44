package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

var quotaSubcommands = []string{"list", "set", "delete"}

// quotaEntityFlags name the entity a quota command acts on: a user, a
// client ID or an IP, each a name or (--*-default) the default entity.
type quotaEntityFlags struct {
	user, clientID, ip                    string
	userDefault, clientDefault, ipDefault bool
}

func (q *quotaEntityFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&q.user, "user", "", "the user entity")
	fs.StringVar(&q.clientID, "client-id", "", "the client-id entity")
	fs.StringVar(&q.ip, "ip", "", "the ip entity")
	fs.BoolVar(&q.userDefault, "user-default", false, "the default user entity")
	fs.BoolVar(&q.clientDefault, "client-id-default", false, "the default client-id entity")
	fs.BoolVar(&q.ipDefault, "ip-default", false, "the default ip entity")
}

// entity builds the entity; at least one component is needed.
func (q *quotaEntityFlags) entity() (kadm.ClientQuotaEntity, error) {
	var e kadm.ClientQuotaEntity
	add := func(typ, name string, dflt bool) error {
		switch {
		case name != "" && dflt:
			return usageErrorf("--%s and --%s-default name two entities of one type; give one", typ, typ)
		case name != "":
			e = append(e, kadm.ClientQuotaEntityComponent{Type: typ, Name: &name})
		case dflt:
			e = append(e, kadm.ClientQuotaEntityComponent{Type: typ})
		}
		return nil
	}
	for _, err := range []error{add("user", q.user, q.userDefault), add("client-id", q.clientID, q.clientDefault), add("ip", q.ip, q.ipDefault)} {
		if err != nil {
			return nil, err
		}
	}
	if len(e) == 0 {
		return nil, usageErrorf("name an entity: --user, --client-id or --ip (or --user-default, --client-id-default, --ip-default)")
	}
	return e, nil
}

func runQuota(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"quota needs a subcommand: list, set or delete"}
	}
	c := newAdminCommand("quota", args[0])
	c.needName = false
	var ent quotaEntityFlags
	switch c.sub {
	case "list":
		format := c.withFormat()
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return quotaList(ctx, adm, stdout, *format)
		}
	case "set":
		ent.bind(c.fs)
		set := c.fs.String("set", "", "comma-separated KEY=VALUE quotas (e.g. producer_byte_rate=1048576)")
		var ops []kadm.AlterClientQuotaOp
		c.check = func() (err error) { ops, err = parseQuotaSets(*set); return err }
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return quotaAlter(ctx, adm, stdout, &ent, ops, "set")
		}
	case "delete":
		ent.bind(c.fs)
		keys := c.fs.String("keys", "", "comma-separated quota keys to delete (default: all the entity has)")
		c.run = func(ctx context.Context, adm *kadm.Client, _ string) error {
			return quotaDelete(ctx, adm, stdout, &ent, *keys)
		}
	default:
		return usageErrorf("unknown quota subcommand %q: want list, set or delete", c.sub)
	}
	return c.execute(args[1:], stderr)
}

func parseQuotaSets(s string) ([]kadm.AlterClientQuotaOp, error) {
	var ops []kadm.AlterClientQuotaOp
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || k == "" || err != nil {
			return nil, usageErrorf("--set %q: want KEY=NUMBER", kv)
		}
		ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Value: f})
	}
	if len(ops) == 0 {
		return nil, usageErrorf("quota set needs --set KEY=VALUE[,KEY=VALUE...]")
	}
	return ops, nil
}

func quotaAlter(ctx context.Context, adm *kadm.Client, out io.Writer, ent *quotaEntityFlags, ops []kadm.AlterClientQuotaOp, verb string) error {
	e, err := ent.entity()
	if err != nil {
		return err
	}
	res, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: e, Ops: ops}})
	if err != nil {
		return fmt.Errorf("%s quotas of %s: %v", verb, e, err)
	}
	for _, r := range res {
		if r.Err != nil {
			msg := r.Err.Error()
			if r.ErrMessage != "" {
				msg += ": " + r.ErrMessage
			}
			return fmt.Errorf("%s quotas of %s: %s", verb, e, msg)
		}
	}
	var keys []string
	for _, op := range ops {
		if op.Remove {
			keys = append(keys, op.Key)
		} else {
			keys = append(keys, op.Key+"="+strconv.FormatFloat(op.Value, 'f', -1, 64))
		}
	}
	fmt.Fprintf(out, "%s %s for %s\n", verb, strings.Join(keys, ","), e)
	return nil
}

func quotaDelete(ctx context.Context, adm *kadm.Client, out io.Writer, ent *quotaEntityFlags, keys string) error {
	e, err := ent.entity()
	if err != nil {
		return err
	}
	var ops []kadm.AlterClientQuotaOp
	for _, k := range strings.Split(keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			ops = append(ops, kadm.AlterClientQuotaOp{Key: k, Remove: true})
		}
	}
	if len(ops) == 0 {
		// All the entity has: describe it strictly, by exact names and defaults.
		var comps []kadm.DescribeClientQuotaComponent
		for _, p := range e {
			c := kadm.DescribeClientQuotaComponent{Type: p.Type, MatchName: p.Name}
			if p.Name == nil {
				c.MatchType = 1
			}
			comps = append(comps, c)
		}
		described, err := adm.DescribeClientQuotas(ctx, true, comps)
		if err != nil {
			return fmt.Errorf("delete quotas of %s: %v", e, err)
		}
		for _, d := range described {
			for _, v := range d.Values {
				ops = append(ops, kadm.AlterClientQuotaOp{Key: v.Key, Remove: true})
			}
		}
		if len(ops) == 0 {
			return fmt.Errorf("delete quotas of %s: it has none", e)
		}
	}
	return quotaAlter(ctx, adm, out, ent, ops, "deleted")
}

// listedQuota is one row of `quota list` (--format json prints a list).
type listedQuota struct {
	Entity map[string]*string `json:"entity"` // type: name (null: the default)
	Values map[string]float64 `json:"values"`
}

func quotaList(ctx context.Context, adm *kadm.Client, out io.Writer, format string) error {
	described, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil {
		return fmt.Errorf("list quotas: %v", err)
	}
	sort.Slice(described, func(i, j int) bool { return described[i].Entity.String() < described[j].Entity.String() })
	if format == formatJSON {
		rows := []listedQuota{}
		for _, d := range described {
			r := listedQuota{Entity: map[string]*string{}, Values: map[string]float64{}}
			for _, p := range d.Entity {
				r.Entity[p.Type] = p.Name
			}
			for _, v := range d.Values {
				r.Values[v.Key] = v.Value
			}
			rows = append(rows, r)
		}
		return writeJSON(out, rows)
	}
	w := newTable(out)
	fmt.Fprintln(w, "ENTITY\tQUOTA\tVALUE")
	for _, d := range described {
		vals := append([]kadm.ClientQuotaValue(nil), d.Values...)
		sort.Slice(vals, func(i, j int) bool { return vals[i].Key < vals[j].Key })
		for _, v := range vals {
			fmt.Fprintf(w, "%s\t%s\t%s\n", d.Entity, v.Key, strconv.FormatFloat(v.Value, 'f', -1, 64))
		}
	}
	return w.Flush()
}
