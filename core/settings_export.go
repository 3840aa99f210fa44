package core

// Setting describes one broker-level setting for the command line: its Kafka
// name, its built-in default and what it does.
type Setting struct {
	Name, Default, Doc string
}

// Settings lists every broker-level setting (the Config.Defaults keys), in
// the order of the configuration table.
func Settings() []Setting {
	out := make([]Setting, 0, len(configDefs))
	for _, d := range configDefs {
		out = append(out, Setting{Name: d.broker, Default: d.def, Doc: d.doc})
	}
	return out
}
