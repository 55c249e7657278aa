package shell

import (
	"reflect"
	"strings"
	"testing"
)

// splitAll feeds input line by line, as the shell does, and flushes.
func splitAll(input string) (stmts []string, rest string) {
	var sp splitter
	for _, line := range strings.Split(input, "\n") {
		stmts = append(stmts, sp.feed(line)...)
	}
	rest, _ = sp.flush()
	return stmts, rest
}

func TestSplitter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  []string
		rest  string // what flush returns at the end of input
	}{
		{name: "one", input: "SELECT 1;", want: []string{"SELECT 1"}},
		{name: "several on a line", input: "SELECT 1; SELECT 2 ;SELECT 3;", want: []string{"SELECT 1", "SELECT 2", "SELECT 3"}},
		{name: "multi-line keeps line breaks", input: "SELECT a,\n  b\nFROM t;", want: []string{"SELECT a,\n  b\nFROM t"}},
		{name: "last without semicolon", input: "SELECT 1; SELECT 2", want: []string{"SELECT 1"}, rest: "SELECT 2"},
		{name: "empty statements skipped", input: ";;  ;\nSELECT 1;;", want: []string{"SELECT 1"}},
		{name: "semicolon in single quotes", input: "SELECT 'a;b';", want: []string{"SELECT 'a;b'"}},
		{name: "semicolon in double quotes", input: `SELECT "a;b";`, want: []string{`SELECT "a;b"`}},
		{name: "semicolon in backticks", input: "SELECT `a;b` FROM t;", want: []string{"SELECT `a;b` FROM t"}},
		{name: "backslash-escaped quote", input: `SELECT 'it\'s; fine';`, want: []string{`SELECT 'it\'s; fine'`}},
		{name: "escaped backslash ends string", input: `SELECT 'a\\'; SELECT 2;`, want: []string{`SELECT 'a\\'`, "SELECT 2"}},
		{name: "doubled single quote", input: "SELECT 'it''s; fine';", want: []string{"SELECT 'it''s; fine'"}},
		{name: "doubled double quote", input: `SELECT "say ""hi;""";`, want: []string{`SELECT "say ""hi;"""`}},
		{name: "doubled backtick", input: "SELECT `a``;b`;", want: []string{"SELECT `a``;b`"}},
		{name: "no backslash escapes in backticks", input: "SELECT `a\\`; SELECT 2;", want: []string{"SELECT `a\\`", "SELECT 2"}},
		{name: "string spans lines", input: "INSERT INTO t VALUES ('a;\nb');", want: []string{"INSERT INTO t VALUES ('a;\nb')"}},
		{name: "dash comment", input: "SELECT 1; -- a comment; with semicolons\nSELECT 2;", want: []string{"SELECT 1", "SELECT 2"}},
		{name: "dash comment inside statement", input: "SELECT 1 -- one;\n, 2;", want: []string{"SELECT 1 \n, 2"}},
		{name: "dash without space is minus", input: "SELECT 1--1;", want: []string{"SELECT 1--1"}},
		{name: "dash at end of line", input: "SELECT 1 --\n;", want: []string{"SELECT 1"}},
		{name: "hash comment", input: "SELECT 1 # c; d\n;", want: []string{"SELECT 1"}},
		{name: "block comment dropped", input: "SELECT /* ; */ 1;", want: []string{"SELECT   1"}},
		{name: "block comment separates tokens", input: "SELECT/*x*/1;", want: []string{"SELECT 1"}},
		{name: "block comment spans lines", input: "SELECT 1 /* a;\n b; */ + 2;", want: []string{"SELECT 1   + 2"}},
		{name: "dropped comment after minus", input: "SELECT 1-/*x*/- 1;", want: []string{"SELECT 1-/**/- 1"}},
		{name: "dropped line comment after minus", input: "SELECT 1--#x\n;", want: []string{"SELECT 1--/**/"}},
		{name: "comment-only input sends nothing", input: "-- nothing\n# here\n/* at\nall */", want: nil},
		{name: "versioned comment kept", input: "/*!40101 SET NAMES utf8 */;", want: []string{"/*!40101 SET NAMES utf8 */"}},
		{name: "hint kept", input: "SELECT /*+ MAX_EXECUTION_TIME(1); */ 1;", want: []string{"SELECT /*+ MAX_EXECUTION_TIME(1); */ 1"}},
		{name: "quotes inside comments", input: "SELECT 1 /* it's */; SELECT 2 -- don't\n;", want: []string{"SELECT 1", "SELECT 2"}},
		{name: "comment markers inside quotes", input: "SELECT '-- x', '# y', '/* z */';", want: []string{"SELECT '-- x', '# y', '/* z */'"}},
		{name: "unterminated quote flushed", input: "SELECT 'abc;", rest: "SELECT 'abc;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rest := splitAll(tc.input)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("statements = %q, want %q", got, tc.want)
			}
			if rest != tc.rest {
				t.Errorf("rest = %q, want %q", rest, tc.rest)
			}
		})
	}
}

func TestSplitterPendingAndPrompt(t *testing.T) {
	var sp splitter
	steps := []struct {
		line      string
		pending   bool
		inLiteral bool
		mark      string
	}{
		{"-- only a comment", false, false, "-"},
		{"SELECT 1", true, false, "-"},
		{", 'a", true, true, "'"},
		{`b"`, true, true, "'"},
		{`', "x`, true, true, `"`},
		{`", ` + "`c", true, true, "`"},
		{"` /* open", true, true, "/*"},
		{"*/", true, false, "-"},
		{";", false, false, "-"},
	}
	for _, st := range steps {
		sp.feed(st.line)
		if sp.pending() != st.pending || sp.inLiteral() != st.inLiteral || sp.continuationMark() != st.mark {
			t.Fatalf("after %q: pending=%v inLiteral=%v mark=%q; want %v %v %q",
				st.line, sp.pending(), sp.inLiteral(), sp.continuationMark(), st.pending, st.inLiteral, st.mark)
		}
	}
	sp.feed("SELECT 'x")
	sp.reset()
	if sp.pending() {
		t.Fatal("reset left a statement pending")
	}
}

func TestContinuationPrompt(t *testing.T) {
	for _, tc := range []struct{ prompt, mark, want string }{
		{"meridian> ", "-", "       -> "},
		{"meridian> ", "'", "       '> "},
		{"meridian> ", "/*", "      /*> "},
		{"> ", "-", "-> "},
	} {
		if got := continuationPrompt(tc.prompt, tc.mark); got != tc.want {
			t.Errorf("continuationPrompt(%q, %q) = %q, want %q", tc.prompt, tc.mark, got, tc.want)
		}
	}
}

// FuzzSplitter checks that statements come out trimmed and non-empty,
// and that splitting a statement again, with its ';', gives it back
// unchanged: the splitter never cuts inside a quote or keeps a ';' that
// ends a statement.
func FuzzSplitter(f *testing.F) {
	for _, s := range []string{
		"SELECT 1; SELECT 'a;b'",
		"SELECT `x``;` -- c\n; # d\n/* e; */ /*! f; */",
		`SELECT "a\";" ; SELECT 'a''b'`,
		"SELECT 1--1;\nSELECT 1 -- x\n;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		stmts, _ := splitAll(input)
		for _, s := range stmts {
			if s == "" || s != strings.TrimSpace(s) {
				t.Fatalf("statement %q is empty or untrimmed", s)
			}
			again, rest := splitAll(s + ";")
			if len(again) != 1 || again[0] != s || rest != "" {
				t.Fatalf("statement %q splits again into %q (rest %q)", s, again, rest)
			}
		}
	})
}
