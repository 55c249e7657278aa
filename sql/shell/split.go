package shell

import "strings"

// lexState is where the splitter stands between two characters. Only
// the states that can span a line break matter across Feed calls; the
// line comments end at the line break by definition.
type lexState uint8

const (
	stNormal      lexState = iota
	stSingle               // inside '...'
	stDouble               // inside "..."
	stBacktick             // inside `...`
	stComment              // inside /* ... */, dropped from the statement
	stKeptComment          // inside /*! ... */ or /*+ ... */, kept: the server reads it
	stLineComment          // inside -- ... or # ..., dropped up to the line break
)

// splitter cuts input lines into statements ended by ';', the way the
// mysql client does: a ';' inside a quoted string, a quoted identifier
// or a comment ends nothing. Plain comments are dropped (as mysql's
// default --skip-comments does) so that a statement made only of
// comments is not sent; /*! */ and /*+ */ are kept because the server
// gives them meaning. Backslash escapes are honoured inside '...' and
// "..." (we assume NO_BACKSLASH_ESCAPES is off, as does the mysql
// client). The zero value is ready to use.
type splitter struct {
	buf   strings.Builder
	state lexState
}

// feed consumes one line of input, without its line terminator, and
// returns the statements it completed, trimmed and without their ';'.
// Empty statements (";" alone) are skipped.
func (s *splitter) feed(line string) []string {
	var out []string
	// The line break is part of the input: it ends line comments, and
	// inside a quoted string it is data.
	in := line + "\n"
	for i := 0; i < len(in); i++ {
		c := in[i]
		var next byte
		if i+1 < len(in) {
			next = in[i+1]
		}
		switch s.state {
		case stNormal:
			var ended bool
			if i, ended = s.normal(in, i); ended {
				if stmt := strings.TrimSpace(s.buf.String()); stmt != "" {
					out = append(out, stmt)
				}
				s.buf.Reset()
			}
		case stSingle, stDouble:
			s.buf.WriteByte(c)
			switch {
			case c == '\\' && next != 0:
				s.buf.WriteByte(next)
				i++
			case c == s.quote() && next == c:
				s.buf.WriteByte(next) // a doubled quote is data
				i++
			case c == s.quote():
				s.state = stNormal
			}
		case stBacktick:
			s.buf.WriteByte(c)
			if c == '`' {
				if next == '`' {
					s.buf.WriteByte(next)
					i++
				} else {
					s.state = stNormal
				}
			}
		case stComment:
			if c == '*' && next == '/' {
				s.dropComment()
				s.state = stNormal
				i++
			}
		case stKeptComment:
			s.buf.WriteByte(c)
			if c == '*' && next == '/' {
				s.buf.WriteByte(next)
				s.state = stNormal
				i++
			}
		case stLineComment:
			if c == '\n' {
				s.buf.WriteByte(c)
				s.state = stNormal
			}
		}
	}
	return out
}

// normal reads in[i] outside quotes and comments and returns the index
// of the last byte it consumed, and whether that byte ended a statement.
func (s *splitter) normal(in string, i int) (int, bool) {
	c := in[i]
	var next, after byte
	if i+1 < len(in) {
		next = in[i+1]
	}
	if i+2 < len(in) {
		after = in[i+2]
	}
	switch {
	case c == ';':
		return i, true
	case c == '\'':
		s.state = stSingle
	case c == '"':
		s.state = stDouble
	case c == '`':
		s.state = stBacktick
	case c == '#', c == '-' && next == '-' && i+2 < len(in) && isCommentSpace(after):
		// MySQL needs a space or control character after "--", so that
		// "1--1" stays arithmetic.
		s.dropComment()
		s.state = stLineComment
		return i, false
	case c == '/' && next == '*' && (after == '!' || after == '+'):
		s.state = stKeptComment
		s.buf.WriteString("/*")
		return i + 1, false
	case c == '/' && next == '*':
		s.state = stComment
		return i + 1, false
	}
	s.buf.WriteByte(c)
	return i, false
}

// quote is the closing character of the quoted string being read.
func (s *splitter) quote() byte {
	if s.state == stSingle {
		return '\''
	}
	return '"'
}

// dropComment stands in for a comment left out of the statement. A
// space keeps the tokens on either side apart (SELECT/*x*/1 must not
// become SELECT1), but after a '-' a space or the line break that ends
// a line comment could make "-- ", a new comment that eats the rest of
// the line: "1-/*x*/- 1" is 1 - -1. There an empty comment is kept.
func (s *splitter) dropComment() {
	if strings.HasSuffix(s.buf.String(), "-") {
		s.buf.WriteString("/**/")
	} else if s.state == stComment {
		s.buf.WriteByte(' ')
	}
}

func isCommentSpace(c byte) bool { return c <= ' ' }

// flush returns the unterminated statement at the end of the input, if
// it holds anything but space and comments: the mysql client runs a
// last statement that lacks its ';'.
func (s *splitter) flush() (string, bool) {
	stmt := strings.TrimSpace(s.buf.String())
	s.reset()
	return stmt, stmt != ""
}

// reset drops the partly entered statement (Ctrl-C or \c at the prompt).
func (s *splitter) reset() {
	s.buf.Reset()
	s.state = stNormal
}

// pending reports whether a statement has been started and not ended,
// which is when the shell prompts for a continuation line.
func (s *splitter) pending() bool {
	return s.inLiteral() || strings.TrimSpace(s.buf.String()) != ""
}

// inLiteral reports whether the next line continues a quoted string,
// quoted identifier or block comment; a backslash at its start is then
// data, not a shell command.
func (s *splitter) inLiteral() bool {
	switch s.state {
	case stSingle, stDouble, stBacktick, stComment, stKeptComment:
		return true
	}
	return false
}

// continuationMark is what the continuation prompt shows before "> ",
// telling the user what is still open, as the mysql client does.
func (s *splitter) continuationMark() string {
	switch s.state {
	case stSingle:
		return "'"
	case stDouble:
		return `"`
	case stBacktick:
		return "`"
	case stComment, stKeptComment:
		return "/*"
	}
	return "-"
}
