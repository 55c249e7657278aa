// Package tpcc is the TPC-C harness behind `meridian bench tpcc
// init|run|check` (DESIGN.md §5): it loads the nine TPC-C tables, drives
// the five transactions from emulated terminals and measures tpmC, and
// checks the specification's consistency conditions. It follows the
// TPC-C specification (revision 5.11) where a client can; the deviations
// are listed below.
//
// The package is a client, as a user's program is: it uses database/sql
// only. The caller registers the drivers (cmd/meridian links the
// "meridian" driver and go-sql-driver/mysql as "mysql"), so --url
// meridian://... measures Meridian and --url mysql://... measures any
// MySQL-protocol database with the same code.
//
// # Flow
//
//   - init: create the database if missing, drop and create the tables
//     (schema.go), then split the population (4.3.3.1) into units — items
//     and stock in chunks of 10,000, per warehouse its row and districts,
//     per district its customers with history and its orders with order
//     lines and new orders — and insert them from --loaders connections
//     in multi-row INSERTs of 100 rows (each its own transaction), with a
//     progress bar on stderr.
//   - run: prepare every statement once, start --terminals terminals
//     (terminal i has home warehouse i mod W + 1 and, for Stock-Level,
//     home district), each dealing transaction types from a shuffled deck
//     of 100 cards (45 New-Order, 43 Payment, 4 each of Order-Status,
//     Delivery, Stock-Level), generating the input, and running it as
//     one explicit transaction (BEGIN ... COMMIT through sql.Tx; Order-Status
//     and Stock-Level as read-only transactions, which Meridian serves as
//     lock-free snapshots). With --wait each transaction is preceded by its
//     keying time and followed by a negative-exponential think time
//     (5.2.5). Transactions completing in the --ramp period are not
//     measured; those completing in the following --duration are. A
//     progress line goes to stderr every few seconds, a summary to stdout,
//     and --json FILE gets the same numbers (Result).
//   - check: in one read-only transaction, aggregate district, orders,
//     new_order and order_line per district and compare (check.go).
//
// # Invariants
//
//  1. A transaction that fails with MySQL error 1213 (Meridian's retryable
//     conflict; also a deadlock in MySQL/MariaDB) or 1205 (MySQL lock wait
//     timeout) is rolled back and rerun with the same input; each rerun is
//     counted as a retry of its type, and the latency covers all attempts.
//     Any other error is counted as an error of its type and the terminal
//     goes on with its next transaction.
//  2. 1% of New-Orders name an unused item as their last line and roll
//     back (2.4.1.4); they count as completed New-Orders, so in tpmC.
//  3. tpmC counts New-Orders completed in the measured period divided by
//     its length in minutes; efficiency is tpmC / (12.86 × W) in percent,
//     meaningful only with --wait (above 100% without).
//  4. init, run and check of one database use the same cardinalities.
//  5. Nothing waits forever: --timeout (default 1m) bounds each attempt of
//     a transaction (an expired one counts as an error of its type, never
//     retried: its commit may be ambiguous), each INSERT of init, and the
//     whole of check.
//
// # Deviations from the specification
//
//   - Stock-Level's nested query (2.8.2.2) is a join with COUNT(DISTINCT)
//     (an equivalent the specification allows), and Delivery's
//     "min(NO_O_ID)" is ORDER BY no_o_id LIMIT 1 FOR UPDATE.
//   - Delivery runs in the terminal, not queued for deferred execution
//     (2.7.2); its latency is that of the whole business transaction.
//   - New-Order processes its lines sorted by (supply warehouse, item) so
//     that concurrent orders lock stock rows in one order; OL_NUMBER keeps
//     the position the line had in the input. One order never names the
//     same (item, supply warehouse) twice.
//   - Payment updates the customer and district before the warehouse, so
//     that the lock on the warehouse row, every Payment's hot spot, is
//     held for the shortest time.
//   - C for C_LAST is fixed at load (157) instead of random, so that run,
//     another process, can choose its own C under the rule of 2.1.6.1
//     without storing the load value.
//   - A terminal's response time is measured from BEGIN to the end of
//     COMMIT, not at an emulated screen.
//   - orders has a secondary index (o_w_id, o_d_id, o_c_id, o_id) for
//     Order-Status's "most recent order of the customer"; customer has
//     (c_w_id, c_d_id, c_last, c_first) for lookups by last name.
//   - Only consistency conditions 1-4 are checked.
//
// Tests shrink the data (Config.TestingKnobs: 1,000 items and 300
// customers per district); the init of the command always loads the
// specification's 100,000 items and 3,000 customers per district. With
// fewer than 1,000 customers, by-name lookups draw only names that exist.
//
// The harness never edits data outside the nine tables, never retries a
// transaction after an error that is not a conflict (so it cannot apply
// an ambiguous commit twice), and never asserts timings.
package tpcc
