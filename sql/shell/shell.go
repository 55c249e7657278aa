package shell

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
)

// Run runs a SQL shell session on one connection taken from db and
// returns when the input ends, the user quits, or ctx is done.
//
// In batch mode (opts.Exec set, or opts.Interactive false) the first
// failing statement ends the session: its error is printed to opts.Err
// and Run returns an error marked with ErrStatementFailed. In
// interactive mode errors are printed and the session goes on; Ctrl-C
// cancels the running statement through its context, so the caller
// should pass a ctx that SIGINT does not cancel (not one from
// signal.NotifyContext(ctx, os.Interrupt)).
//
// Other errors — no connection, a failed write to opts.Out — are
// returned unprinted.
func Run(ctx context.Context, db *sql.DB, opts Options) error {
	if db == nil {
		return errors.AssertionFailedf("shell: Run needs a *sql.DB")
	}
	opts = opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	b := &connBackend{db: db, conn: conn}
	defer func() { _ = b.conn.Close() }()

	s := newSession(opts, b)
	if opts.batch() {
		in := opts.In
		if opts.Exec != "" {
			in = strings.NewReader(opts.Exec)
		}
		return s.loop(ctx, newPlainReader(in))
	}
	s.catchInterrupts = true
	lr := newLinerReader(opts.HistoryFile, opts.Err)
	defer lr.close()
	fmt.Fprintln(s.out, `Meridian SQL shell. End statements with ";"; \? lists the commands, \q quits.`)
	fmt.Fprintln(s.out)
	if err := s.out.Flush(); err != nil { // before liner's first prompt
		return err
	}
	err = s.loop(ctx, lr)
	if err == nil {
		fmt.Fprintln(s.out, "Bye")
		err = s.out.Flush()
	}
	return err
}

// IsTerminal reports whether f is a character device, which is how a
// caller can choose Options.Interactive:
//
//	Interactive: shell.IsTerminal(os.Stdin) && shell.IsTerminal(os.Stdout)
//
// /dev/null counts too; liner then reads it as plain input and the
// session ends at once.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// session is the state of one shell: output, toggles, and the backend.
type session struct {
	b        backend
	format   Format
	batch    bool
	prompt   string
	out      *bufio.Writer
	errw     io.Writer
	timing   bool
	quitting bool
	// catchInterrupts makes Ctrl-C (SIGINT) cancel the running statement.
	catchInterrupts bool
	// now is the clock for elapsed times; tests fix it.
	now func() time.Time
}

func newSession(opts Options, b backend) *session {
	return &session{
		b:      b,
		format: opts.Format,
		batch:  opts.batch(),
		prompt: opts.Prompt,
		// Buffered so that a large result costs few write calls; flushed
		// after every statement, so the user sees each result at once.
		out:  bufio.NewWriter(opts.Out),
		errw: opts.Err,
		// mysql shows elapsed times interactively; scripts want output
		// that is the same from run to run.
		timing: !opts.batch(),
		now:    time.Now,
	}
}

// loop reads lines, runs shell commands and complete statements, and
// keeps a history entry per line that ended outside a statement.
func (s *session) loop(ctx context.Context, in lineReader) error {
	var sp splitter
	var entry []string // lines since the last history entry
	for !s.quitting {
		if err := ctx.Err(); err != nil {
			return err
		}
		prompt := s.prompt
		if sp.pending() {
			prompt = continuationPrompt(s.prompt, sp.continuationMark())
		}
		line, err := in.readLine(prompt)
		switch {
		case errors.Is(err, errInterrupted):
			sp.reset()
			entry = entry[:0]
			continue
		case err == io.EOF:
			// mysql runs a last statement without ';' in batch mode; at an
			// interactive prompt Ctrl-D just leaves.
			if stmt, ok := sp.flush(); ok && s.batch {
				return s.runStatement(ctx, stmt)
			}
			return nil
		case err != nil:
			return err
		}
		if !sp.inLiteral() {
			if cmd, ok := parseCommand(line, sp.pending()); ok {
				in.addHistory(strings.TrimSpace(line))
				if err := s.command(ctx, cmd, &sp); err != nil {
					return err
				}
				continue
			}
		}
		entry = append(entry, line)
		for _, stmt := range sp.feed(line) {
			if err := s.runStatement(ctx, stmt); err != nil {
				return err
			}
		}
		if !sp.pending() {
			if h := strings.TrimSpace(strings.Join(entry, " ")); h != "" {
				in.addHistory(h)
			}
			entry = entry[:0]
		}
	}
	return nil
}

// continuationPrompt right-aligns mark+"> " under the primary prompt:
// "meridian> " continues as "       -> ", or "       '> " inside a
// quoted string.
func continuationPrompt(prompt, mark string) string {
	p := mark + "> "
	if pad := len([]rune(prompt)) - len(p); pad > 0 {
		p = strings.Repeat(" ", pad) + p
	}
	return p
}

// runStatement runs one statement and prints its results or its error.
// It returns an error only when the session must end: in batch mode
// after a failure, when ctx is done, or when Out cannot be written.
func (s *session) runStatement(ctx context.Context, stmt string) error {
	sctx, stop := s.statementContext(ctx)
	err := s.execute(sctx, stmt)
	interrupted := stop()
	if ferr := s.out.Flush(); ferr != nil {
		return ferr
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if interrupted && errors.Is(err, context.Canceled) {
		fmt.Fprintln(s.errw, "ERROR: statement cancelled")
	} else {
		fmt.Fprintln(s.errw, formatError(err))
	}
	if s.batch {
		return errors.Mark(err, ErrStatementFailed)
	}
	if !hasServerCode(err) {
		// The error did not come from the server, so the connection may
		// be gone (a cancelled statement makes go-sql-driver drop it).
		reconnected, rerr := s.b.reconnect(ctx)
		if rerr != nil {
			return rerr
		}
		if reconnected {
			fmt.Fprintln(s.errw, "Connection lost; reconnected. The current database, any open transaction and session variables were reset.")
		}
	}
	return nil
}

// statementContext returns the context for one statement and a stop
// function reporting whether Ctrl-C cancelled it. SIGINT is caught only
// while a statement runs: at the prompt, liner reads Ctrl-C as a key.
func (s *session) statementContext(ctx context.Context) (context.Context, func() bool) {
	sctx, cancel := context.WithCancel(ctx)
	if !s.catchInterrupts {
		return sctx, func() bool { cancel(); return false }
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var interrupted bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sigs:
			interrupted = true
			cancel()
		case <-done:
		}
	}()
	return sctx, func() bool {
		signal.Stop(sigs)
		close(done)
		wg.Wait()
		cancel()
		return interrupted
	}
}

// execute runs one statement and prints its results. Statements whose
// first keyword says they return no rows go through Exec, the only way
// database/sql reports affected rows; everything else goes through
// Query, which also works for statements without rows (zero columns),
// so that a statement we do not know never loses its rows.
func (s *session) execute(ctx context.Context, stmt string) error {
	start := s.now()
	kw := firstKeyword(stmt)
	if !execKeyword(kw) {
		return s.b.query(ctx, stmt, func(rs resultSet) error {
			err := s.printResult(rs, start)
			start = s.now()
			return err
		})
	}
	n, known, err := s.b.exec(ctx, stmt)
	if err != nil {
		return err
	}
	elapsed := s.now().Sub(start)
	if kw == "USE" {
		// The mysql client says this, without a time, for USE.
		if s.format == FormatTable {
			fmt.Fprintln(s.out, "Database changed")
		}
		return nil
	}
	s.footer(affectedLine(n, known), elapsed)
	return nil
}

// printResult prints one result set and the line that follows it.
func (s *session) printResult(rs resultSet, start time.Time) error {
	cols := rs.columns()
	if len(cols) == 0 {
		if _, err := readAll(rs); err != nil {
			return err
		}
		s.footer(affectedLine(0, false), s.now().Sub(start))
		return nil
	}
	if s.format != FormatTable {
		n, err := streamWriterFor(s.format)(s.out, rs)
		if err != nil {
			return err
		}
		s.footer(rowCountLine(n), s.now().Sub(start))
		return nil
	}
	rows, err := readAll(rs)
	if err != nil {
		return err
	}
	elapsed := s.now().Sub(start)
	if len(rows) > 0 {
		if err := renderTable(s.out, cols, rows); err != nil {
			return err
		}
	}
	s.footer(rowCountLine(len(rows)), elapsed)
	return nil
}

// footer prints the "3 rows in set (0.01 sec)" line. In table format it
// goes to Out, with the time if \timing is on, and a blank line follows
// interactively as in mysql. In the other formats Out holds only data,
// so the line goes to Err, and only when \timing is on.
func (s *session) footer(msg string, elapsed time.Duration) {
	if s.timing {
		msg += " " + elapsedText(elapsed)
	}
	if s.format != FormatTable {
		if s.timing {
			_ = s.out.Flush() // keep the line after its data on a terminal; write errors stick
			fmt.Fprintln(s.errw, msg)
		}
		return
	}
	fmt.Fprintln(s.out, msg)
	if !s.batch {
		fmt.Fprintln(s.out)
	}
}
