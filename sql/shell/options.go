package shell

import (
	"io"
	"os"
	"path/filepath"
)

// DefaultPrompt is the primary prompt; continuation lines get "-> "
// right-aligned under it, as in the mysql client.
const DefaultPrompt = "meridian> "

// Options configure Run. The zero value runs statements from os.Stdin in
// batch mode and prints tables to os.Stdout.
type Options struct {
	// Format is how result sets are printed. Default: FormatTable.
	Format Format
	// Exec holds statements to run instead of reading input, as with
	// `meridian sql -e`: several may be separated by ';', the last needs
	// none, and a line may be a backslash command. Exec always runs in
	// batch mode. Default: empty, read input.
	Exec string
	// In is where batch mode reads statements. Ignored when Exec is set
	// or Interactive is true. Default: os.Stdin.
	In io.Reader
	// Out receives result sets and their "rows in set" lines.
	// Default: os.Stdout.
	Out io.Writer
	// Err receives statement errors ("ERROR 1146 (42S02): ..."),
	// notices, and timings in the formats other than table (so that Out
	// stays machine-readable). Default: os.Stderr.
	Err io.Writer
	// Interactive reads statements from the terminal on os.Stdin with
	// line editing and history, and keeps going after a failed statement;
	// Ctrl-C cancels the running statement rather than the shell. The
	// caller decides, normally by whether stdin and stdout are both
	// terminals (see IsTerminal), as the mysql client does. Prompts go to
	// os.Stdout, whatever Out is. Default: false (batch mode: stop at
	// the first failing statement and return ErrStatementFailed).
	Interactive bool
	// HistoryFile is where interactive mode loads and saves its line
	// history (mode 0600). Default: $HOME/.meridian_history; no history
	// is kept if the home directory is unknown.
	HistoryFile string
	// Prompt is the primary prompt in interactive mode.
	// Default: DefaultPrompt.
	Prompt string
}

// EnsureDefaults returns a copy of o with its unset fields defaulted.
func (o Options) EnsureDefaults() Options {
	if o.Format == "" {
		o.Format = FormatTable
	}
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	if o.HistoryFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			o.HistoryFile = filepath.Join(home, ".meridian_history")
		}
	}
	if o.Prompt == "" {
		o.Prompt = DefaultPrompt
	}
	return o
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	if _, err := ParseFormat(string(o.Format)); err != nil {
		return err
	}
	return nil
}

// batch reports whether statements come from Exec or a non-terminal.
func (o Options) batch() bool { return o.Exec != "" || !o.Interactive }
