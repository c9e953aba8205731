// Command trailwatch ingests AWS CloudTrail logs into an embedded store, queries them with Athena SQL and
// reviews them for PCI DSS requirement 10.
package main

import (
	"os"

	"github.com/trailwatch/trailwatch/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
