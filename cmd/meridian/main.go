// Command meridian is Meridian's command-line tool. This minimal entry point
// dispatches the subcommands that exist so far; it is replaced by the full
// CLI (start, init, demo, sql, bench, status, ...).
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: meridian timemaster --listen HOST:PORT [--uncertainty DUR]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "timemaster":
		err = runTimemaster(context.Background(), os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meridian:", err)
		os.Exit(1)
	}
}
