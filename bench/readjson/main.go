// Command readjson measures DuckDB's own JSON loader on the same files as the ingest benchmark: one
// read_json statement over every .json.gz, with the top-level Athena columns as an explicit schema, each
// record unnested into a row of a fresh database file, checkpointed.
//
//	go run ./bench/readjson DIR DBFILE
package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// record lists the top-level CloudTrail fields; nested documents load as JSON.
const record = `STRUCT(eventVersion VARCHAR, userIdentity JSON, eventTime VARCHAR, eventSource VARCHAR,
eventName VARCHAR, awsRegion VARCHAR, sourceIPAddress VARCHAR, userAgent VARCHAR, errorCode VARCHAR,
errorMessage VARCHAR, requestParameters JSON, responseElements JSON, additionalEventData JSON, requestID VARCHAR,
eventID VARCHAR, readOnly VARCHAR, resources JSON, eventType VARCHAR, apiVersion VARCHAR,
recipientAccountId VARCHAR, serviceEventDetails JSON, sharedEventID VARCHAR, vpcEndpointId VARCHAR,
tlsDetails JSON, eventCategory VARCHAR, managementEvent VARCHAR)[]`

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: readjson DIR DBFILE")
		os.Exit(2)
	}
	dir, dbPath := os.Args[1], os.Args[2]
	os.Remove(dbPath)
	os.Remove(dbPath + ".wal")
	start := time.Now()
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	q := fmt.Sprintf(`CREATE TABLE t AS SELECT unnest(Records, recursive := false) AS r
		FROM read_json('%s/**/*.json.gz', columns = {Records: '%s'}, maximum_object_size = 268435456, format = 'auto')`,
		strings.ReplaceAll(dir, "'", "''"), strings.ReplaceAll(record, "\n", " "))
	for _, stmt := range []string{"SET autoinstall_known_extensions=false", "SET autoload_known_extensions=false", q, "CHECKPOINT"} {
		if _, err := db.Exec(stmt); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db.Close()
	el := time.Since(start).Seconds()
	fmt.Printf("read_json: %d events, %.2f s, %.0f events/s\n", n, el, float64(n)/el)
}
