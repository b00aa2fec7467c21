// mongowire runs FerretDB v1 (SQLite backend) as the local MongoDB-wire server
// for development and tests.
//
// What it adds to a plain FerretDB:
//   - It embeds FerretDB as a library: the `go install`-ed ferretdb binary
//     panics on its missing build/version.txt.
//   - It serialises write commands. FerretDB v1 applies an update (and
//     findAndModify) as "read the document, change it in Go, write it back"
//     without a lock, so two concurrent updates filtered on the same version
//     both match, and two claims both win. MongoDB updates one document
//     atomically, and the services rely on that (optimistic concurrency,
//     outbox and message claims), so a small proxy in front of FerretDB lets
//     one write command per database through at a time. Reads are not held up.
//   - Queries answered through SQLite's indexes: _overlay/ holds two FerretDB
//     source files that services/cli/stack.py lays over the module before
//     building (see _overlay/pushdown.go); `go` tooling ignores the folder.
//   - Only its owner can reach it, and erased data leaves the disk. FerretDB v1's
//     embeddable config has no authentication, so the default listener is a Unix
//     socket (0600) in the 0700 data dir: the file system's owner check is the
//     access control, the same one that guards the SQLite files themselves. Files
//     are created 0600 (umask 077) and existing ones are narrowed at start. SQLite
//     runs with secure_delete, so freed page content is zeroed, and a little while
//     after writes the server checkpoints every database's WAL with TRUNCATE, so
//     the old page images an update or delete left in the WAL go too.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // FerretDB's own SQLite driver: files checked at start, WAL checkpoints
)

const (
	opMsg       = 2013
	moreToCome  = 1 << 1
	maxMsgBytes = 48 * 1024 * 1024
)

// Commands that never change data: everything else takes the write lock.
var readCommands = map[string]bool{
	"find": true, "getMore": true, "aggregate": true, "count": true, "distinct": true,
	"hello": true, "isMaster": true, "ismaster": true, "ping": true, "buildInfo": true,
	"buildinfo": true, "listCollections": true, "listIndexes": true, "listDatabases": true,
	"killCursors": true, "endSessions": true, "dbStats": true, "collStats": true,
	"serverStatus": true, "getParameter": true, "whatsmyuri": true, "connectionStatus": true,
	"getLog": true, "hostInfo": true, "saslStart": true, "saslContinue": true,
}

// Writes are serialised per database: FerretDB's read-modify-write races only
// within a collection, and each database is its own SQLite file, so the three
// services' writes go side by side. A write whose database cannot be read from
// the message (or that spans databases, like dropDatabase on another) takes
// every database: `allWrites` exclusively, where per-database writes share it.
var (
	allWrites sync.RWMutex
	dbLocksMu sync.Mutex
	dbLocks   = map[string]*sync.Mutex{}
)

// lockWrite takes the write lock for the request's database and returns its release.
func lockWrite(request []byte) func() {
	db := databaseName(request)
	if db == "" {
		allWrites.Lock()
		return allWrites.Unlock
	}
	dbLocksMu.Lock()
	lock, ok := dbLocks[db]
	if !ok {
		lock = &sync.Mutex{}
		dbLocks[db] = lock
	}
	dbLocksMu.Unlock()
	allWrites.RLock()
	lock.Lock()
	return func() {
		lock.Unlock()
		allWrites.RUnlock()
	}
}

func main() {
	listen := flag.String("listen-addr", "", "TCP address to listen on (any local user can connect: prefer --listen-unix)")
	listenUnix := flag.String("listen-unix", "", "Unix socket to listen on (created 0600; keep it in a 0700 directory)")
	dataDir := flag.String("data-dir", "data", "directory for the SQLite files")
	checkpointEvery := flag.Duration("checkpoint-after", 5*time.Second,
		"checkpoint (TRUNCATE) every database's WAL this long after a write")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// Measured under a burst of referrals, the collector took 12% of the server's CPU at
		// the default 100 (each command decodes and re-encodes whole documents). The live heap
		// is tens of megabytes, so letting it grow 4x before collecting costs little memory.
		debug.SetGCPercent(400)
	}
	if addr := os.Getenv("MONGOWIRE_PPROF"); addr != "" { // profiling on demand, e.g. 127.0.0.1:6060
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}

	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *listen == "" && *listenUnix == "" {
		logger.Error("give --listen-unix PATH (or --listen-addr HOST:PORT)")
		os.Exit(2)
	}
	syscall.Umask(0o077) // every file and socket we or SQLite create: owner only
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		logger.Error("cannot create data dir", "error", err)
		os.Exit(1)
	}
	if err := ownerOnly(*dataDir); err != nil {
		logger.Error("cannot restrict the data dir to its owner", "error", err)
		os.Exit(1)
	}
	// The lock says which process owns this data dir, its SQLite files and its socket:
	// a second copy must leave them alone (deleting a live socket cuts off every new client).
	lock, err := lockDataDir(*dataDir)
	if err != nil {
		logger.Error("not starting: another mongowire already serves this data dir", "data_dir", *dataDir,
			"lock", filepath.Join(*dataDir, lockName), "error", err)
		os.Exit(3)
	}
	defer lock.Close()
	socket := filepath.Join(*dataDir, "ferretdb.sock")
	_ = os.Remove(socket) // stale: we hold the lock, so no live server owns it
	setAsideEmptyDatabases(*dataDir, logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{Unix: socket},
		Logger:   logger,
		Handler:  "sqlite",
		// secure_delete: SQLite zeroes the content it frees (deleted rows, replaced cells, freed pages).
		// mmap_size: read the database files through a shared memory map rather than a pread per
		// page (a connection's own page cache is reset whenever another connection has written,
		// which under load is every time).
		SQLiteURL: "file:" + *dataDir + "/?_pragma=secure_delete(on)&_pragma=mmap_size(1073741824)",
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := f.Run(ctx); err != nil {
			logger.Error("FerretDB stopped", "error", err)
		}
		stop()
	}()

	checkpoints := newCheckpointer(*dataDir, *checkpointEvery, logger)
	var listeners []net.Listener
	if *listenUnix != "" {
		_ = os.Remove(*listenUnix) // stale: we hold the data dir's lock
		front, err := net.Listen("unix", *listenUnix)
		if err == nil {
			err = os.Chmod(*listenUnix, 0o600)
		}
		if err != nil {
			logger.Error("cannot listen", "socket", *listenUnix, "error", err)
			os.Exit(1)
		}
		listeners = append(listeners, front)
	}
	if *listen != "" {
		front, err := net.Listen("tcp", *listen)
		if err != nil {
			logger.Error("cannot listen", "addr", *listen, "error", err)
			os.Exit(1)
		}
		listeners = append(listeners, front)
	}
	var accepting sync.WaitGroup
	for _, front := range listeners {
		logger.Warn("mongowire listening", "addr", front.Addr().String())
		accepting.Add(1)
		go func(front net.Listener) {
			defer accepting.Done()
			for {
				client, err := front.Accept()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					logger.Error("accept failed", "error", err)
					continue
				}
				go serve(client, socket, checkpoints, logger)
			}
		}(front)
	}
	<-ctx.Done()
	for _, front := range listeners {
		front.Close()
	}
	accepting.Wait()
	checkpoints.run() // what the last writes left in the WAL
}

// ownerOnly narrows the data dir to 0700 and what it holds to 0600 (files made by an older build were 0644).
func ownerOnly(dataDir string) error {
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		path := filepath.Join(dataDir, entry.Name())
		mode := os.FileMode(0o600)
		if entry.IsDir() {
			mode = 0o700
		}
		if err := os.Chmod(path, mode); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// checkpointer truncates every database's WAL a little while after a write, so page images that an
// erasure replaced do not linger there (with secure_delete the database file itself keeps no freed
// content). Idle, it does nothing: a checkpoint is only scheduled by a write.
type checkpointer struct {
	dataDir string
	after   time.Duration
	logger  *slog.Logger
	mu      sync.Mutex
	pending bool
}

func newCheckpointer(dataDir string, after time.Duration, logger *slog.Logger) *checkpointer {
	return &checkpointer{dataDir: dataDir, after: after, logger: logger}
}

// wrote schedules one checkpoint `after` from now unless one is already scheduled.
func (c *checkpointer) wrote() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending {
		return
	}
	c.pending = true
	time.AfterFunc(c.after, func() {
		c.mu.Lock()
		c.pending = false
		c.mu.Unlock()
		c.run()
	})
}

func (c *checkpointer) run() {
	files, err := filepath.Glob(filepath.Join(c.dataDir, "*.sqlite"))
	if err != nil {
		return
	}
	// no write goes through while we checkpoint, so TRUNCATE waits only for readers
	allWrites.Lock()
	defer allWrites.Unlock()
	for _, file := range files {
		if info, err := os.Stat(file + "-wal"); err != nil || info.Size() == 0 {
			continue
		}
		if err := checkpoint(file); err != nil {
			c.logger.Warn("WAL checkpoint failed", "file", filepath.Base(file), "error", err)
		}
	}
}

func checkpoint(file string) error {
	// mode=rw: never create a database that FerretDB has just dropped
	// A short busy timeout: every write waits while we hold allWrites, so a reader holding the WAL
	// (a client's cursor left open on a large result) must make us give up quickly, not stall every
	// writer for seconds each time; the next write schedules another try.
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(200)")
	if err != nil {
		return err
	}
	defer db.Close()
	var busy, logFrames, checkpointed int
	if err := db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed); err != nil {
		return err
	}
	if busy != 0 {
		return errors.New("busy: a reader held the WAL; the next write schedules another")
	}
	return nil
}

const lockName = "mongowire.lock"

// lockDataDir takes an exclusive, non-blocking flock on <dataDir>/mongowire.lock and writes our pid
// into it. The kernel drops the lock when the process exits, however it exits.
func lockDataDir(dataDir string) (*os.File, error) {
	file, err := os.OpenFile(filepath.Join(dataDir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(filepath.Join(dataDir, lockName))
		file.Close()
		return nil, fmt.Errorf("%w (held by pid %s)", err, strings.TrimSpace(string(holder)))
	}
	if err := file.Truncate(0); err == nil {
		_, _ = file.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return file, nil
}

// serve relays one client connection to FerretDB, request by request.
func serve(client net.Conn, socket string, checkpoints *checkpointer, logger *slog.Logger) {
	defer client.Close()
	backend, err := net.Dial("unix", socket)
	if err != nil {
		logger.Error("cannot reach FerretDB", "error", err)
		return
	}
	defer backend.Close()

	for {
		request, err := readMessage(client)
		if err != nil {
			return
		}
		release := func() {}
		written := !readCommands[commandName(request)]
		if written {
			release = lockWrite(request)
		}
		err = relay(request, client, backend)
		release()
		if written {
			checkpoints.wrote()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				logger.Warn("relay failed", "error", err)
			}
			return
		}
	}
}

// relay sends one request and copies its replies (several while the server says moreToCome).
func relay(request []byte, client, backend net.Conn) error {
	if _, err := backend.Write(request); err != nil {
		return err
	}
	if flags(request)&moreToCome != 0 {
		return nil // the client expects no reply
	}
	for {
		reply, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(reply); err != nil {
			return err
		}
		if flags(reply)&moreToCome == 0 {
			return nil
		}
	}
}

func readMessage(r io.Reader) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	size := int(binary.LittleEndian.Uint32(header[:]))
	if size < 16 || size > maxMsgBytes {
		return nil, errors.New("bad message length")
	}
	msg := make([]byte, size)
	copy(msg, header[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func opCode(msg []byte) uint32 { return binary.LittleEndian.Uint32(msg[12:16]) }

func flags(msg []byte) uint32 {
	if opCode(msg) != opMsg || len(msg) < 20 {
		return 0
	}
	return binary.LittleEndian.Uint32(msg[16:20])
}

// commandName is the first key of an OP_MSG body section ("" when unknown: treated as a write).
func commandName(msg []byte) string {
	if opCode(msg) != opMsg || len(msg) < 26 || msg[20] != 0 {
		return ""
	}
	// msg[21:25] is the document length, msg[25] the first element's type, then its name
	start := 26
	for end := start; end < len(msg); end++ {
		if msg[end] == 0 {
			return string(msg[start:end])
		}
	}
	return ""
}

// databaseName is the body's "$db" ("" when the message is not a plain OP_MSG or it cannot tell).
func databaseName(msg []byte) string {
	if opCode(msg) != opMsg || len(msg) < 26 || msg[20] != 0 {
		return ""
	}
	size := int(binary.LittleEndian.Uint32(msg[21:25]))
	end := 21 + size - 1 // the document's closing NUL
	if size < 5 || end >= len(msg) {
		return ""
	}
	for pos := 25; pos < end; {
		kind := msg[pos]
		nameEnd := bytes.IndexByte(msg[pos+1:end], 0)
		if nameEnd < 0 {
			return ""
		}
		name := string(msg[pos+1 : pos+1+nameEnd])
		value := pos + 2 + nameEnd
		if name == "$db" {
			if kind != 0x02 || value+4 > end {
				return ""
			}
			n := int(binary.LittleEndian.Uint32(msg[value : value+4]))
			if n < 1 || value+4+n > end+1 {
				return ""
			}
			return string(msg[value+4 : value+4+n-1])
		}
		skip := bsonValueSize(kind, msg[value:end])
		if skip < 0 {
			return ""
		}
		pos = value + skip
	}
	return ""
}

// bsonValueSize is the length of one BSON value of the given type at the start of b (-1: unknown).
func bsonValueSize(kind byte, b []byte) int {
	fixed := map[byte]int{0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
		0x13: 16, 0x7F: 0, 0xFF: 0}
	if n, ok := fixed[kind]; ok {
		return n
	}
	if len(b) < 4 {
		return -1
	}
	n := int(binary.LittleEndian.Uint32(b[:4]))
	switch kind {
	case 0x02, 0x0D, 0x0E: // string, JavaScript, symbol: int32 length + bytes
		return 4 + n
	case 0x03, 0x04: // document, array: the int32 counts itself
		return n
	case 0x05: // binary: int32 length + subtype + bytes
		return 5 + n
	}
	return -1
}

// setAsideEmptyDatabases moves database files that hold no table at all into <dataDir>/set-aside.
//
// A server stopped while it was creating a database can leave such a file
// (SQLite's header, not yet FerretDB's metadata table); FerretDB then refuses
// to start ("no such table: _ferretdb_collections"). A file with no table holds
// no data, so moving it aside loses nothing; anything else is left alone.
func setAsideEmptyDatabases(dataDir string, logger *slog.Logger) {
	files, _ := filepath.Glob(filepath.Join(dataDir, "*.sqlite"))
	for _, file := range files {
		empty, err := hasNoTables(file)
		if err != nil || !empty {
			continue
		}
		aside := filepath.Join(dataDir, "set-aside")
		if err := os.MkdirAll(aside, 0o700); err != nil {
			continue
		}
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Rename(file+suffix, filepath.Join(aside, filepath.Base(file)+suffix))
		}
		logger.Warn("an empty database file left by an interrupted start was set aside",
			"file", filepath.Base(file), "to", aside)
	}
}

func hasNoTables(file string) (bool, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return false, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&tables); err != nil {
		return false, err
	}
	return tables == 0, nil
}
