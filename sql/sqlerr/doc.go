// Package sqlerr defines the errors the SQL layer reports to users, in the
// shape MySQL clients expect: a numeric error code, a five-character
// SQLSTATE and a message. The MySQL wire protocol sends all three, the SQL
// shell prints "ERROR 1146 (42S02): Table 'db.t' doesn't exist", and
// drivers and tools branch on the code, so the codes, states and message
// formats follow MySQL's exactly for every error a user is likely to know.
//
// Invariants:
//  1. The SQLSTATE of a code is defined once, in the codes table in
//     codes.go; constructors never spell a state themselves.
//  2. Every constructor returns *Error, which implements MySQLError();
//     callers further up detect SQL errors with errors.As or Is, so
//     wrapping with cockroachdb/errors keeps the code visible.
//
// This package never decides retry policy: CodeRetryable (1213, SQLSTATE
// 40001) only names the class that clients retry.
package sqlerr
