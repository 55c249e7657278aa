package tpcc

import (
	"errors"
	"regexp"
	"strconv"
)

// MySQL error codes the harness acts on.
const (
	codeDeadlock        = 1213 // ER_LOCK_DEADLOCK: retryable conflict (Meridian and MySQL)
	codeLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT: MySQL/MariaDB's other conflict
)

// errRollback is New-Order's intended rollback on an unused item number
// (2.4.2.3): the transaction is rolled back and counted as completed.
var errRollback = errors.New("tpcc: new-order rolled back on an invalid item")

var codePrefix = regexp.MustCompile(`^Error (\d+)`)

// sqlCode returns err's MySQL error code, or 0. The harness links no
// driver, so it asks for the method Meridian's driver errors have and
// otherwise reads the "Error NNNN" prefix both drivers render.
func sqlCode(err error) uint16 {
	var coded interface {
		MySQLError() (code uint16, state string, msg string)
	}
	if errors.As(err, &coded) {
		code, _, _ := coded.MySQLError()
		return code
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if m := codePrefix.FindStringSubmatch(e.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return uint16(n)
		}
	}
	return 0
}

// retryable reports whether err aborted the transaction and a retry of
// the same input may succeed.
func retryable(err error) bool {
	switch sqlCode(err) {
	case codeDeadlock, codeLockWaitTimeout:
		return true
	}
	return false
}
