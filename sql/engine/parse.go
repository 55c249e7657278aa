package engine

import (
	"regexp"
	"strconv"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	// The parser needs a value-expression driver registered to build
	// literals; this one keeps plain values and no TiDB runtime.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/meridiandb/meridian/sql/sqlerr"
)

// parserOf wraps one TiDB parser (not safe for concurrent use: one per
// session). The AST it returns is never mutated by the engine; resolved
// names and types live in the plans built beside it.
type parserOf struct {
	p *parser.Parser
}

func newParser() *parserOf {
	p := parser.New()
	// ANSI quotes off, MySQL's default; pipes are OR.
	p.SetSQLMode(mysql.ModeNone)
	return &parserOf{p: p}
}

// parse returns the statements of query, or error 1064 with the position.
func (ps *parserOf) parse(query string) ([]ast.StmtNode, error) {
	stmts, _, err := ps.p.ParseSQL(query)
	if err != nil {
		return nil, syntaxError(err)
	}
	return stmts, nil
}

// syntaxError turns the parser's message (`line 1 column 14 near "..."`)
// into MySQL's 1064 with the position.
func syntaxError(err error) error {
	m := parseErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return sqlerr.Syntax(err.Error(), 1, -1)
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	return sqlerr.Syntax(m[3], line, col)
}

var parseErrRE = regexp.MustCompile(`line (\d+) column (\d+) near "((?s).*)"`)
