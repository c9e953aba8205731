package store

import (
	"context"
	"database/sql"
)

// Query runs Athena (Presto/Trino) SQL against the store: the text is translated to DuckDB's dialect and
// errors are explained in terms of the user's SQL.
func (s *Store) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	dq, err := TranslateSQL(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, dq, args...)
	if err != nil {
		return nil, ExplainError(q, err)
	}
	return rows, nil
}
