package shell

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/cockroachdb/errors"
)

// command is a shell command: a line starting with a backslash, or
// quit/exit typed alone.
type command struct {
	name string // without the backslash: "q", "timing", "d", ...
	arg  string // the rest of the line, trimmed, without a final ';'
}

// parseCommand recognises a shell command. Backslash commands count
// only at the start of a line, and quit/exit only when no statement is
// being entered (inside one they may be identifiers), as in mysql.
func parseCommand(line string, midStatement bool) (command, bool) {
	t := strings.TrimSpace(line)
	if !midStatement {
		switch strings.ToLower(strings.TrimSuffix(t, ";")) {
		case "quit", "exit":
			return command{name: "q"}, true
		}
	}
	if !strings.HasPrefix(t, `\`) {
		return command{}, false
	}
	name, arg, _ := strings.Cut(t[1:], " ")
	if name == "" {
		return command{}, false
	}
	// "\d t;" is a natural thing to type.
	arg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(arg), ";"))
	return command{name: strings.TrimSuffix(name, ";"), arg: arg}, true
}

const helpText = `Commands (at the start of a line):
  \?, \h            show this help
  \c                clear the statement being entered
  \d                list tables (SHOW TABLES)
  \d TABLE          describe a table (SHOW COLUMNS FROM TABLE)
  \q, quit, exit    leave; so does Ctrl-D
  \timing [on|off]  toggle showing how long statements take
Statements end with ";" and may span lines. Ctrl-C cancels a running
statement, or clears the line being entered.
`

// command runs a shell command. An unknown command or a bad argument is
// a failed statement: it ends a batch session with ErrStatementFailed.
func (s *session) command(ctx context.Context, c command, sp *splitter) error {
	switch c.name {
	case "q":
		s.quitting = true
		return nil
	case "?", "h":
		fmt.Fprint(s.out, helpText)
		return s.out.Flush()
	case "c":
		sp.reset()
		return nil
	case "timing":
		return s.timingCommand(c.arg)
	case "d":
		if c.arg == "" {
			return s.runStatement(ctx, "SHOW TABLES")
		}
		return s.runStatement(ctx, "SHOW COLUMNS FROM "+quoteTableName(c.arg))
	}
	return s.commandFailed(errors.Newf(`unknown command \%s; \? lists the commands`, c.name))
}

func (s *session) timingCommand(arg string) error {
	switch strings.ToLower(arg) {
	case "":
		s.timing = !s.timing
	case "on":
		s.timing = true
	case "off":
		s.timing = false
	default:
		return s.commandFailed(errors.Newf(`\timing takes on or off, not %q`, arg))
	}
	state := "off"
	if s.timing {
		state = "on"
	}
	// A notice, not data: it goes where errors go, keeping Out clean.
	fmt.Fprintf(s.errw, "Timing is %s.\n", state)
	return nil
}

func (s *session) commandFailed(err error) error {
	fmt.Fprintln(s.errw, formatError(err))
	if s.batch {
		return errors.Mark(err, ErrStatementFailed)
	}
	return nil
}

// quoteTableName quotes the name given to \d, so that reserved words
// and odd characters work: t, db.t, and `my table` are all accepted.
// A name that already holds a backquote is taken as written.
func quoteTableName(name string) string {
	if strings.Contains(name, "`") {
		return name
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = "`" + p + "`"
	}
	return strings.Join(parts, ".")
}

// firstKeyword returns the statement's first word in upper case,
// looking past leading space, parentheses, comments, and the opening of
// a /*!NNNNN ... */ comment, whose content the server executes.
func firstKeyword(stmt string) string {
	s := stmt
	for {
		s = strings.TrimLeftFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '(' })
		switch {
		case strings.HasPrefix(s, "/*!"):
			s = strings.TrimLeft(s[3:], "0123456789")
			continue
		case strings.HasPrefix(s, "/*"):
			end := strings.Index(s, "*/")
			if end < 0 {
				return ""
			}
			s = s[end+2:]
			continue
		}
		break
	}
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '_' })
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:end])
}

// execKeyword reports whether statements starting with kw return no
// rows, so that Exec can report their affected rows. The list is the
// statements MySQL defines as rowless; anything else (SELECT, SHOW,
// EXPLAIN, WITH, VALUES, TABLE, and what we do not know) takes the
// Query path, which prints rows if there are any.
func execKeyword(kw string) bool {
	switch kw {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER",
		"TRUNCATE", "RENAME", "SET", "USE", "BEGIN", "START", "COMMIT",
		"ROLLBACK", "SAVEPOINT", "RELEASE", "GRANT", "REVOKE", "LOCK",
		"UNLOCK", "LOAD", "DO", "FLUSH", "KILL":
		return true
	}
	return false
}
