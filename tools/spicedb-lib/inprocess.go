package main

// Calls without a transport. The library's unary calls and bounded reads used to go through a
// gRPC client over the unix socket to the server in the same process: HTTP/2 framing on both
// sides, two socket writes and reads, a goroutine handoff and their garbage, per call. A profile
// of event ingestion put that at a quarter of the process's CPU.
//
// Our patch to SpiceDB (patches/inprocess-calls.patch) hands us, while the server is built, its
// API services and its middleware chains. A call then runs the service's generated handler
// directly, through the same middleware the socket's calls go through (datastore, consistency,
// validation, dispatch, logging), so it is the same call without the transport. The socket stays
// for the host's streaming client (lookups, unbounded reads).

import (
	"context"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inProcess keeps the services registered on the API server, and that server's middleware.
type inProcess struct {
	server  *grpc.Server
	methods map[string]unaryMethod  // by full method name, "/package.Service/Method"
	streams map[string]streamMethod // server-streaming methods, the same way
	unary   grpc.UnaryServerInterceptor
	stream  grpc.StreamServerInterceptor
}

type unaryMethod struct {
	impl    any
	handler grpc.MethodHandler
}

type streamMethod struct {
	impl    any
	handler grpc.StreamHandler
}

var _ reflection.GRPCServer = (*inProcess)(nil)

func newInProcess(server *grpc.Server, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) *inProcess {
	return &inProcess{
		server:  server,
		methods: map[string]unaryMethod{},
		streams: map[string]streamMethod{},
		unary:   chainUnary(unary),
		stream:  chainStream(stream),
	}
}

// RegisterService registers the service on the server, as before, and keeps its handlers.
func (p *inProcess) RegisterService(desc *grpc.ServiceDesc, impl any) {
	p.server.RegisterService(desc, impl)
	for _, m := range desc.Methods {
		p.methods["/"+desc.ServiceName+"/"+m.MethodName] = unaryMethod{impl, m.Handler}
	}
	for _, s := range desc.Streams {
		if s.ServerStreams && !s.ClientStreams {
			p.streams["/"+desc.ServiceName+"/"+s.StreamName] = streamMethod{impl, s.Handler}
		}
	}
}

func (p *inProcess) GetServiceInfo() map[string]grpc.ServiceInfo { return p.server.GetServiceInfo() }

// chainUnary composes interceptors the way grpc.ChainUnaryInterceptor does: the first is outermost.
func chainUnary(chain []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var next func(i int) grpc.UnaryHandler
		next = func(i int) grpc.UnaryHandler {
			if i == len(chain) {
				return handler
			}
			return func(ctx context.Context, req any) (any, error) { return chain[i](ctx, req, info, next(i+1)) }
		}
		return next(0)(ctx, req)
	}
}

// chainStream composes interceptors the way grpc.ChainStreamInterceptor does.
func chainStream(chain []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		var next func(i int) grpc.StreamHandler
		next = func(i int) grpc.StreamHandler {
			if i == len(chain) {
				return handler
			}
			return func(srv any, ss grpc.ServerStream) error { return chain[i](srv, ss, info, next(i+1)) }
		}
		return next(0)(srv, ss)
	}
}

// vtMessage is the fast path of SpiceDB's messages (vtprotobuf); proto is the fallback.
type vtMessage interface {
	MarshalVT() ([]byte, error)
	UnmarshalVT([]byte) error
}

func unmarshal(b []byte, m any) error {
	if vt, ok := m.(vtMessage); ok {
		return vt.UnmarshalVT(b)
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "in-process call: cannot decode into %T", m)
	}
	return proto.Unmarshal(b, pm)
}

func marshal(m any) ([]byte, error) {
	if vt, ok := m.(vtMessage); ok {
		return vt.MarshalVT()
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, status.Errorf(codes.Internal, "in-process call: cannot encode %T", m)
	}
	return proto.Marshal(pm)
}

var inProcessPeer = &peer.Peer{Addr: &net.UnixAddr{Name: "in-process", Net: "unix"}}

// callContext is what a call over the socket would carry: no metadata from the caller, a peer,
// and a transport stream for the headers the services set (kept nowhere: the FFI answer has
// only the message).
func callContext(ctx context.Context, method string) context.Context {
	ctx = metadata.NewIncomingContext(ctx, metadata.MD{})
	ctx = peer.NewContext(ctx, inProcessPeer)
	return grpc.NewContextWithServerTransportStream(ctx, &headerSink{method: method})
}

// Unary runs one unary method with the request's bytes and returns the answer's bytes.
func (p *inProcess) Unary(ctx context.Context, method string, req []byte) ([]byte, error) {
	m, ok := p.methods[method]
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	res, err := m.handler(m.impl, callContext(ctx, method), func(v any) error { return unmarshal(req, v) }, p.unary)
	if err != nil {
		return nil, err
	}
	return marshal(res)
}

// Collected runs a server-streaming method to its end and calls each with every message's bytes.
func (p *inProcess) Collected(ctx context.Context, method string, req []byte, each func([]byte)) error {
	m, ok := p.streams[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	ss := &collector{ctx: callContext(ctx, method), req: req, each: each}
	info := &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true}
	return p.stream(m.impl, ss, info, m.handler)
}

// collector is the server side of one in-process server stream: it hands the request over once
// and passes every sent message on.
type collector struct {
	ctx  context.Context
	req  []byte
	read bool
	each func([]byte)
}

func (c *collector) Context() context.Context     { return c.ctx }
func (c *collector) SetHeader(metadata.MD) error  { return nil }
func (c *collector) SendHeader(metadata.MD) error { return nil }
func (c *collector) SetTrailer(metadata.MD)       {}
func (c *collector) SendMsg(m any) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	c.each(b)
	return nil
}

func (c *collector) RecvMsg(m any) error {
	if c.read {
		return io.EOF // a server-streaming handler reads its one request once
	}
	c.read = true
	return unmarshal(c.req, m)
}

// headerSink is the transport stream of an in-process unary call.
type headerSink struct{ method string }

func (h *headerSink) Method() string               { return h.method }
func (h *headerSink) SetHeader(metadata.MD) error  { return nil }
func (h *headerSink) SendHeader(metadata.MD) error { return nil }
func (h *headerSink) SetTrailer(metadata.MD) error { return nil }
