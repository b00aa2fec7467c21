// Copyright 2021 FerretDB Inc. and referral-hub contributors.
// Licensed under the Apache License, Version 2.0.
//
// referral-hub: let SQLite answer the selective part of a filter.
//
// FerretDB v1.24's SQLite backend sends SQLite only a filter that is a lone
// `_id` equality; every other query reads and decodes the whole collection
// in Go, and its secondary indexes are created but never used. The handler
// always applies the complete filter to the rows a backend returns, so the
// backend may return a superset: this file builds a WHERE clause that is a
// necessary condition of the filter, from the terms that are cheap and safe:
//
//   - `_id` equality (string or ObjectID) anywhere in the filter, or `_id: {"$in": [plain strings]}`:
//     the `_id_` index.
//   - top-level `field: "plain string"`, `field: true|false` and
//     `field: {"$in": ["plain", ...]}`: compared on `_ferretdb_sjson->"field"`,
//     the very expression FerretDB's createIndexes indexes, so SQLite uses the
//     index when there is one.
//
// MongoDB's equality also matches an array holding the value, so each term
// also lets through any document whose field is an array (its JSON text
// starts with '['); the handler then decides. "Plain" strings are those Go's
// JSON encoder writes verbatim, so the bytes SQLite compares are the bytes Go
// wrote (a test in tests/integration/test_store_engine.py pins this).
package sqlite

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

var (
	plainField = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// maxPlainLen bounds a string pushed down (longer ones are left to the handler).
const maxPlainLen = 512

// plainString reports whether Go's JSON encoder writes s verbatim between quotes: valid UTF-8
// without quotes, backslashes, control characters, the HTML-escaped <, > and &, or U+2028/U+2029.
func plainString(s string) bool {
	if len(s) > maxPlainLen || !utf8.ValidString(s) {
		return false
	}

	for _, r := range s {
		if r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r == 0x7f ||
			r == '\u2028' || r == '\u2029' {
			return false
		}
	}

	return true
}

// idColumn is `_id` spelled exactly as the unique `_id_` index spells it
// (`_ferretdb_sjson->"_id"`). Upstream's `->'$._id'` returns the same value but
// SQLite only uses an expression index for the identical expression, so every
// lookup, update and delete by `_id` scanned the table.
var idColumn = metadata.DefaultColumn + `->"_id"`

// maxInValues bounds an $in list pushed down; longer lists are left to the handler.
const maxInValues = 100

func prepareWhereClause(filter *types.Document) (string, []any) {
	if filter == nil || filter.Len() == 0 {
		return "", nil
	}

	if v, err := filter.Get("_id"); err == nil {
		switch v := v.(type) {
		case string, types.ObjectID:
			return fmt.Sprintf(` WHERE %s = ?`, idColumn), []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		case *types.Document:
			// `_id: {$in: [plain strings]}`: the `_id_` index, one probe per value (an _id is never an array)
			if values := pushableValues(v); len(values) > 0 {
				marks := strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ")
				return fmt.Sprintf(` WHERE %s IN (%s)`, idColumn, marks), values
			}
		}
	}

	var conds []string
	var args []any

	for _, key := range filter.Keys() {
		if !plainField.MatchString(key) {
			continue
		}

		values := pushableValues(must.NotFail(filter.Get(key)))
		if len(values) == 0 {
			continue
		}

		col := fmt.Sprintf(`%s->%q`, metadata.DefaultColumn, key)
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ")
		conds = append(conds, fmt.Sprintf(`(%s IN (%s) OR (%s >= '[' AND %s < '\'))`, col, marks, col, col))
		args = append(args, values...)
	}

	if len(conds) == 0 {
		return "", nil
	}

	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// pushableValues returns the JSON texts a field must equal (or nil when the term can't be pushed down).
func pushableValues(v any) []any {
	switch v := v.(type) {
	case string:
		if plainString(v) {
			return []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	case bool:
		return []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
	case *types.Document:
		if v.Len() != 1 {
			return nil
		}

		in, err := v.Get("$in")
		if err != nil {
			return nil
		}

		arr, ok := in.(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > maxInValues {
			return nil
		}

		var out []any

		for i := 0; i < arr.Len(); i++ {
			s, ok := must.NotFail(arr.Get(i)).(string)
			if !ok || !plainString(s) {
				return nil
			}

			out = append(out, string(must.NotFail(sjson.MarshalSingleValue(s))))
		}

		return out
	}

	return nil
}
