package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// completionCases are command lines (the last word is the one being
// completed) and the candidates every shell must offer.
var completionCases = []struct {
	words []string
	want  []string
}{
	{[]string{""}, []string{"broker", "cluster", "completion", "consume", "group", "help", "produce", "quota", "topic", "txn"}},
	{[]string{"txn", "p"}, []string{"producers"}},
	{[]string{"txn", "list", "--st"}, []string{"--state"}},
	{[]string{"pro"}, []string{"produce"}},
	{[]string{"cluster", "h"}, []string{"health"}},
	{[]string{"topic", ""}, topicSubcommands},
	{[]string{"completion", ""}, []string{"bash", "fish", "zsh"}},
	{[]string{"consume", "t", "--of"}, []string{"--offset"}},
	{[]string{"consume", "t", "--offset", ""}, []string{"start", "end"}},
	{[]string{"produce", "t", "--acks", ""}, []string{"all", "1", "0"}},
	{[]string{"produce", "t", "--compression", "z"}, []string{"zstd"}},
	{[]string{"cluster", "health", "--f"}, []string{"--format"}},
	{[]string{"topic", "create", "x", "--rep"}, []string{"--replication-factor"}},
	{[]string{"group", "reset-offsets", "g", "--to-dat"}, []string{"--to-datetime"}},
	{[]string{"broker", "--log-f"}, []string{"--log-format"}},
}

// shellEnv is the environment of the shells: PATH with jocko on it, and
// no 1 s pause at the exit of a race-enabled jocko (GORACE's default).
func shellEnv(path string) []string {
	return append(os.Environ(), "PATH="+path, "GORACE=atexit_sleep_ms=0")
}

// jockoOnPath puts the jocko binary on PATH as "jocko", as a user has it.
func jockoOnPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(jockoBin, filepath.Join(dir, "jocko")); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func shellLines(t *testing.T, path, shell string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(shell, args...)
	cmd.Env = shellEnv(path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", shell, args, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestCompletionBash: the script from `jocko completion bash`, sourced into
// bash, completes commands, subcommands, flags and flag values (also after
// bash splits --format=js at the '='), and offers nothing after --file,
// leaving file names to bash.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	path := jockoOnPath(t)
	const script = `source <(jocko completion bash); COMP_WORDS=(jocko "$@"); COMP_CWORD=$#; _jocko_complete; printf '%s\n' "${COMPREPLY[@]}"`
	cases := append(completionCases[:len(completionCases):len(completionCases)],
		struct {
			words []string
			want  []string
		}{[]string{"cluster", "health", "--format", "=", "js"}, []string{"json"}},
		// None: bash's -o default then completes file names.
		struct {
			words []string
			want  []string
		}{[]string{"produce", "t", "--file", ""}, nil})
	for _, c := range cases {
		got := shellLines(t, path, bash, append([]string{"-c", script, "_"}, c.words...)...)
		if !slices.Equal(got, c.want) {
			t.Errorf("bash: jocko %s<TAB> offers %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}
}

// TestCompletionZsh: the zsh script's function, called with words and
// CURRENT set as zsh's completion system sets them, hands the candidates
// to compadd, and falls back to file names when there are none.
func TestCompletionZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh not installed (apt-get install zsh)")
	}
	path := jockoOnPath(t)
	const script = `compdef() { print -r -- "compdef $*" > /dev/null }
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@" }
_files() { print FILES }
source <(jocko completion zsh)
words=(jocko "$@"); CURRENT=$(( $# + 1 )); _jocko`
	for _, c := range completionCases {
		got := shellLines(t, path, zsh, append([]string{"-f", "-c", script, "_"}, c.words...)...)
		if !slices.Equal(got, c.want) {
			t.Errorf("zsh: jocko %s<TAB> offers %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}
	if got := shellLines(t, path, zsh, "-f", "-c", script, "_", "produce", "t", "--file", ""); !slices.Equal(got, []string{"FILES"}) {
		t.Errorf("zsh: jocko produce t --file <TAB> offers %q, want file names", got)
	}
}

// TestCompletionFish: fish, with the script loaded, completes command lines
// (complete -C) with jocko's candidates and no file names, and with file
// names where jocko has none (after --file).
func TestCompletionFish(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish not installed (apt-get install fish)")
	}
	path := jockoOnPath(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "records.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) []string {
		t.Helper()
		cmd := exec.Command(fish, "--no-config", "-c", "jocko completion fish | source; complete -C '"+line+"'")
		cmd.Env, cmd.Dir = shellEnv(path), dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish complete -C %q: %v\n%s", line, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			l, _, _ = strings.Cut(l, "\t") // fish may add a tab and a description
			if l != "" {
				got = append(got, l)
			}
		}
		return slices.Sorted(slices.Values(got))
	}
	for _, c := range completionCases {
		line := "jocko " + strings.Join(c.words, " ")
		if got, want := complete(line), slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
			t.Errorf("fish: %s<TAB> offers %q, want %q", line, got, want)
		}
	}
	if got := complete("jocko produce t --file "); !slices.Equal(got, []string{"records.txt"}) {
		t.Errorf("fish: jocko produce t --file <TAB> offers %q, want the file names", got)
	}
}

// TestCompletionKnowsEverySubcommand: the subcommands completion offers are
// those the topic and group commands accept (their error for an unknown
// one lists them), and `jocko completion` refuses an unknown shell.
func TestCompletionKnowsEverySubcommand(t *testing.T) {
	for kind, subs := range map[string][]string{"topic": topicSubcommands, "group": groupSubcommands, "quota": quotaSubcommands, "txn": txnSubcommands} {
		_, _, errOut := runCLI(kind, "explode")
		m := regexp.MustCompile(`want (.*)\n`).FindStringSubmatch(errOut)
		if m == nil {
			t.Fatalf("jocko %s explode: %q", kind, errOut)
		}
		listed := regexp.MustCompile(`[a-z-]+`).FindAllString(strings.ReplaceAll(m[1], " or ", ", "), -1)
		if !slices.Equal(slices.Sorted(slices.Values(listed)), slices.Sorted(slices.Values(subs))) {
			t.Errorf("jocko %s accepts %q; completion offers %q", kind, listed, subs)
		}
	}
	code, _, errOut := runCLI("completion", "powershell")
	if code != 2 || !strings.Contains(errOut, `completion "powershell": want bash, zsh or fish`) {
		t.Errorf("completion powershell: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("completion")
	if code != 2 || !strings.Contains(errOut, "completion needs one shell: bash, zsh or fish") {
		t.Errorf("completion: exit %d, %q", code, errOut)
	}
}
