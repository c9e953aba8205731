package cli

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"
)

func newQueryCmd(e *env) *cobra.Command {
	var file, format string
	var maxWidth int
	cmd := &cobra.Command{
		Use:   "query [SQL]",
		Short: "Run Athena SQL against the store",
		Long: `Run SQL against the store's cloudtrail_logs table, which has the columns and nested types of the Athena
CloudTrail table plus the partition columns account, region, timestamp (yyyy/MM/dd), year, month, day (and the
aliases account_partition, region_partition, date_partition). Athena (Presto/Trino) queries run unchanged:
qualified names such as "default"."cloudtrail_logs", struct paths such as
useridentity.sessioncontext.sessionissuer.username, and functions such as json_extract_scalar,
from_iso8601_timestamp, date_parse, format_datetime, date_format, regexp_like, cardinality and element_at.

Fields outside the Athena table are in the JSON column extra, e.g.
json_extract_scalar(extra, '$.userIdentity.sessionContext.sourceIdentity').

The SQL comes from the argument, from -f FILE, or from stdin.`,
		Example: `  trailwatch query "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1 ORDER BY n DESC LIMIT 10"
  trailwatch query -f root-activity.sql --format csv > root.csv
  echo "SELECT * FROM cloudtrail_logs LIMIT 5" | trailwatch query --format jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var q string
			switch {
			case len(args) == 1 && file != "":
				return usageErr("give the SQL as an argument or with -f, not both")
			case len(args) == 1:
				q = args[0]
			case file == "-" || file == "":
				if file == "" {
					if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
						return usageErr("no SQL: give it as an argument, with -f FILE, or on stdin")
					}
				}
				b, err := io.ReadAll(e.stdin)
				if err != nil {
					return fmt.Errorf("read SQL from stdin: %w", err)
				}
				q = string(b)
			default:
				b, err := os.ReadFile(file)
				if err != nil {
					return usageErr("read SQL: %v", err)
				}
				q = string(b)
			}
			if strings.TrimSpace(q) == "" {
				return usageErr("the SQL is empty")
			}
			switch format {
			case "table", "csv", "jsonl":
			default:
				return usageErr("--format %q: use table, csv or jsonl", format)
			}
			st, err := e.openStore(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := st.Query(cmd.Context(), q)
			if err != nil {
				return err
			}
			defer rows.Close()
			return writeRows(e.stdout, rows, format, maxWidth, 0)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the SQL from FILE (- for stdin)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv or jsonl")
	cmd.Flags().IntVar(&maxWidth, "max-width", 80, "table format: cut longer values to this many characters (0: no limit)")
	return cmd
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeRows prints a result set. Values are attacker-controlled text: the table format shows control
// characters escaped, so a user agent cannot move the cursor or recolour the terminal.
func writeRows(w io.Writer, rows *sql.Rows, format string, maxWidth, maxRows int) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
		rec := make([]string, len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			for i, v := range vals {
				rec[i] = text(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			obj := make(orderedRow, len(cols))
			for i, v := range vals {
				obj[i] = kv{cols[i], jsonValue(v)}
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(escapeAll(cols, maxWidth), "\t"))
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			n++
			if maxRows > 0 && n > maxRows {
				continue
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = text(v)
			}
			fmt.Fprintln(tw, strings.Join(escapeAll(cells, maxWidth), "\t"))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		tw.Flush()
		if maxRows > 0 && n > maxRows {
			fmt.Fprintf(w, "(%d rows, first %d shown)\n", n, maxRows)
		} else {
			fmt.Fprintf(w, "(%d rows)\n", n)
		}
	}
	return rows.Err()
}

type kv struct {
	k string
	v any
}

// orderedRow encodes as a JSON object with the columns in query order.
type orderedRow []kv

func (o orderedRow) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.k)
		v, err := json.Marshal(p.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// jsonValue turns a scanned DuckDB value into something encoding/json renders faithfully.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case fmt.Stringer:
		if _, ok := v.(json.Marshaler); !ok {
			return x.String()
		}
	}
	return v
}

// text renders a value for table and CSV output: scalars as text, nested values as JSON.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 && x.Location() == time.UTC {
			return x.Format(time.RFC3339)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	default:
		if b, err := json.Marshal(x); err == nil && len(b) > 0 && (b[0] == '{' || b[0] == '[') {
			return string(b)
		}
		return fmt.Sprint(x)
	}
}

func escapeAll(cells []string, maxWidth int) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = escapeCell(c, maxWidth)
	}
	return out
}

// escapeCell shows control characters (including tabs, newlines and ESC) as Go escapes and cuts long values.
func escapeCell(s string, maxWidth int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if maxWidth > 0 && n >= maxWidth {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) { // Cf: bidi overrides and other invisible format characters
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}
