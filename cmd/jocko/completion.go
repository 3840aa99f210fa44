package main

import (
	"bytes"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// `jocko completion bash|zsh|fish` prints a script that completes jocko's
// commands, subcommands, flags and the values of flags with fixed choices.
// The scripts are thin: they ask `jocko __complete WORD...` (the words
// after the program name, the last being the one under the cursor), which
// answers one candidate a line from the same flag sets the commands parse,
// so completion cannot drift from the commands. No candidates lets the
// shell complete file names (for --file, --data-dir, ...).

// topicSubcommands and groupSubcommands are the subcommands runTopic and
// runGroup dispatch; TestCompletionKnowsEverySubcommand checks them
// against the commands' own error messages.
var (
	topicSubcommands = []string{"create", "list", "describe", "alter", "delete", "reassign"}
	groupSubcommands = []string{"list", "describe", "delete", "reset-offsets"}
)

// subcommands returns each command and its subcommands (nil: none).
func subcommands() map[string][]string {
	return map[string][]string{
		"broker": nil, "topic": topicSubcommands, "group": groupSubcommands, "quota": quotaSubcommands, "txn": txnSubcommands,
		"cluster": slices.Sorted(maps.Keys(clusterCommands)),
		"produce": nil, "consume": nil, "completion": {"bash", "fish", "zsh"}, "help": nil,
	}
}

// flagValues are the choices of flags that take one of a fixed set.
var flagValues = map[string][]string{
	"format":      {formatText, formatJSON},
	"acks":        {"all", "1", "0"},
	"compression": {"none", "gzip", "snappy", "lz4", "zstd"},
	"offset":      {"start", "end"},
	"log-format":  {"text", "json"},
}

func runCompletion(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageErrorf("completion needs one shell: bash, zsh or fish (for example: source <(jocko completion bash))")
	}
	script, ok := completionScripts[args[0]]
	if !ok {
		return usageErrorf("completion %q: want bash, zsh or fish", args[0])
	}
	_, err := io.WriteString(stdout, script)
	return err
}

// runComplete answers `jocko __complete WORD...`, one candidate a line.
func runComplete(words []string, stdout io.Writer) error {
	for _, c := range complete(words) {
		if _, err := io.WriteString(stdout, c+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// complete returns the candidates for the last of words (the words after
// the program name).
func complete(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, prev := words[len(words)-1], words[:len(words)-1]
	// bash splits --flag=value into "--flag", "=", "value".
	if cur == "=" {
		cur, prev = "", words
	}
	if n := len(prev); n >= 2 && prev[n-1] == "=" {
		prev = prev[:n-1]
	}
	cmds := subcommands()
	if len(prev) == 0 {
		return withPrefix(slices.Sorted(maps.Keys(cmds)), cur)
	}
	subs, ok := cmds[prev[0]]
	if !ok {
		return nil
	}
	path := prev[:1]
	if subs != nil {
		if len(prev) == 1 {
			return withPrefix(subs, cur)
		}
		if !slices.Contains(subs, prev[1]) {
			return nil
		}
		path = prev[:2]
	}
	flags := flagsOf(path)
	if last := prev[len(prev)-1]; len(prev) > len(path) && strings.HasPrefix(last, "-") {
		name := strings.TrimLeft(last, "-")
		if takesValue, known := flags[name]; known && takesValue {
			return withPrefix(flagValues[name], cur)
		}
	}
	if name, value, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(name, "-") {
		var out []string
		for _, v := range withPrefix(flagValues[strings.TrimLeft(name, "-")], value) {
			out = append(out, name+"="+v)
		}
		return out
	}
	if !strings.HasPrefix(cur, "-") {
		return nil
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		out = append(out, "--"+name)
	}
	return withPrefix(out, cur)
}

// flagLineRE matches a flag in the -h output of the flag package:
// "  -name type" or, for a boolean, "  -name".
var flagLineRE = regexp.MustCompile(`(?m)^  -(\S+)( \S+)?$`)

// flagsOf returns the flags of the command path (such as ["topic",
// "create"]) and whether each takes a value, read from its -h output, which
// the command prints before it does anything else.
func flagsOf(path []string) map[string]bool {
	var out, errOut bytes.Buffer
	run(append(slices.Clone(path), "-h"), &out, &errOut)
	flags := map[string]bool{}
	for _, m := range flagLineRE.FindAllStringSubmatch(errOut.String(), -1) {
		flags[m[1]] = m[2] != ""
	}
	return flags
}

func withPrefix(candidates []string, prefix string) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

var completionScripts = map[string]string{
	"bash": `# bash completion for jocko. Load it with: source <(jocko completion bash)
_jocko_complete() {
    local IFS=$'\n'
    COMPREPLY=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _jocko_complete jocko
`,
	"zsh": `#compdef jocko
# zsh completion for jocko. Load it with: source <(jocko completion zsh)
_jocko() {
    local -a candidates
    candidates=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ -n "${candidates[1]}" ]]; then
        compadd -- "${candidates[@]}"
    else
        _files
    fi
}
if [[ "${funcstack[1]}" == "_jocko" ]]; then
    _jocko "$@"
else
    compdef _jocko jocko
fi
`,
	"fish": `# fish completion for jocko. Load it with: jocko completion fish | source
function __jocko_complete
    set -l words (commandline -opc)
    $words[1] __complete $words[2..-1] (commandline -ct) 2>/dev/null
end
function __jocko_has_candidates
    test (count (__jocko_complete)) -gt 0
end
complete -c jocko -f -n __jocko_has_candidates -a '(__jocko_complete)'
complete -c jocko -F -n 'not __jocko_has_candidates'
`,
}
