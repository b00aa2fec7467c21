package main

import (
	"database/sql"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// opMsgBody builds an OP_MSG whose body section holds the given raw BSON document.
func opMsgBody(doc []byte) []byte {
	msg := make([]byte, 21, 21+len(doc))
	binary.LittleEndian.PutUint32(msg[12:16], opMsg)
	msg = append(msg, doc...) // msg[20] == 0: a body section
	binary.LittleEndian.PutUint32(msg[0:4], uint32(len(msg)))
	return msg
}

// bsonDoc builds a BSON document from pre-encoded elements.
func bsonDoc(elements ...[]byte) []byte {
	var body []byte
	for _, e := range elements {
		body = append(body, e...)
	}
	doc := make([]byte, 4, 5+len(body))
	doc = append(doc, body...)
	doc = append(doc, 0)
	binary.LittleEndian.PutUint32(doc[0:4], uint32(len(doc)))
	return doc
}

func str(name, value string) []byte {
	e := append([]byte{0x02}, name...)
	e = append(e, 0)
	n := make([]byte, 4)
	binary.LittleEndian.PutUint32(n, uint32(len(value)+1))
	e = append(e, n...)
	e = append(e, value...)
	return append(e, 0)
}

func boolean(name string, v bool) []byte {
	e := append([]byte{0x08}, name...)
	e = append(e, 0)
	if v {
		return append(e, 1)
	}
	return append(e, 0)
}

func subdoc(name string, doc []byte) []byte {
	e := append([]byte{0x03}, name...)
	e = append(e, 0)
	return append(e, doc...)
}

func TestDatabaseName(t *testing.T) {
	cases := map[string]struct {
		msg  []byte
		want string
	}{
		"update": {opMsgBody(bsonDoc(str("update", "cases"), boolean("ordered", true),
			subdoc("lsid", bsonDoc(str("id", "x"))), str("$db", "refhub_referrals"))), "refhub_referrals"},
		"first":        {opMsgBody(bsonDoc(str("$db", "a"), str("insert", "b"))), "a"},
		"none":         {opMsgBody(bsonDoc(str("insert", "b"))), ""},
		"not a string": {opMsgBody(bsonDoc(str("insert", "b"), boolean("$db", true))), ""},
		"unknown type": {opMsgBody(bsonDoc(append([]byte{0x06}, 'u', 0), str("$db", "a"))), ""},
		"truncated":    {opMsgBody(bsonDoc(str("insert", "b"), str("$db", "abc")))[:40], ""},
	}
	for name, c := range cases {
		if got := databaseName(c.msg); got != c.want {
			t.Errorf("%s: databaseName = %q, want %q", name, got, c.want)
		}
	}
}

func TestSetAsideEmptyDatabases(t *testing.T) {
	dir := t.TempDir()
	for name, stmt := range map[string]string{
		"interrupted.sqlite": "PRAGMA user_version = 1", // a header and no table
		"kept.sqlite":        "CREATE TABLE t (x)",
	} {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	setAsideEmptyDatabases(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := os.Stat(filepath.Join(dir, "set-aside", "interrupted.sqlite")); err != nil {
		t.Errorf("the empty file was not set aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kept.sqlite")); err != nil {
		t.Errorf("a database with a table was moved: %v", err)
	}
}
