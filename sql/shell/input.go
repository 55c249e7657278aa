package shell

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/peterh/liner"
)

// errInterrupted is returned by readLine when the user pressed Ctrl-C at
// the prompt: the shell drops the partly entered statement.
var errInterrupted = errors.New("shell: input interrupted")

// lineReader yields input lines without their line terminators.
type lineReader interface {
	// readLine shows prompt (when there is a terminal to show it on) and
	// returns the next line, io.EOF at the end of the input, or
	// errInterrupted.
	readLine(prompt string) (string, error)
	// addHistory records an entry the user may recall with the arrow keys.
	addHistory(entry string)
}

// plainReader reads batch input: no prompts, no history.
type plainReader struct {
	r *bufio.Reader
}

func newPlainReader(r io.Reader) plainReader { return plainReader{r: bufio.NewReader(r)} }

func (p plainReader) readLine(string) (string, error) {
	// ReadString, not a Scanner: a line (a long INSERT) has no size limit.
	line, err := p.r.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil // the last line lacks its terminator
	}
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

func (plainReader) addHistory(string) {}

// linerReader reads the terminal with line editing. liner always uses
// os.Stdin and os.Stdout, which is why Options.In does not apply.
type linerReader struct {
	st          *liner.State
	historyFile string
	errw        io.Writer
}

func newLinerReader(historyFile string, errw io.Writer) *linerReader {
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetMultiLineMode(true)
	if historyFile != "" {
		if f, err := os.Open(historyFile); err == nil {
			_, _ = st.ReadHistory(f) // a damaged history file loses old lines only
			_ = f.Close()
		}
	}
	return &linerReader{st: st, historyFile: historyFile, errw: errw}
}

func (l *linerReader) readLine(prompt string) (string, error) {
	line, err := l.st.Prompt(prompt)
	switch {
	case errors.Is(err, liner.ErrPromptAborted):
		return "", errInterrupted
	case errors.Is(err, liner.ErrNotTerminalOutput):
		return "", errors.Wrap(err, "shell: interactive mode needs stdout to be a terminal")
	}
	return line, err
}

func (l *linerReader) addHistory(entry string) { l.st.AppendHistory(entry) }

// close restores the terminal and saves the history. Failing to save is
// reported, not returned: the session itself went fine.
func (l *linerReader) close() {
	if l.historyFile != "" {
		if err := l.writeHistory(); err != nil {
			fmt.Fprintf(l.errw, "warning: could not save history to %s: %v\n", l.historyFile, err)
		}
	}
	_ = l.st.Close()
}

func (l *linerReader) writeHistory() error {
	f, err := os.OpenFile(l.historyFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := l.st.WriteHistory(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
