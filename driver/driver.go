package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"sync"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// DriverName is the name the driver registers with database/sql.
const DriverName = "meridian"

func init() {
	sql.Register(DriverName, Driver{})
}

// regionMetadataKey declares the client's region on its streams; the node's
// simulated WAN reads it (netsim.RegionMetadataKey, which the driver does
// not import: it depends on the API only).
const regionMetadataKey = "meridian-region"

// Driver is the database/sql driver. sql.Open("meridian", dsn) uses it
// through OpenConnector.
type Driver struct{}

var (
	_ driver.Driver        = Driver{}
	_ driver.DriverContext = Driver{}
)

// Open opens one connection with a gRPC client of its own; database/sql
// does not call it (it uses OpenConnector).
func (Driver) Open(dsn string) (driver.Conn, error) {
	c, err := Driver{}.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	ctr := c.(*Connector)
	dc, err := ctr.Connect(context.Background())
	if err != nil {
		_ = ctr.Close()
		return nil, err
	}
	dc.(*conn).onClose = func() { _ = ctr.Close() }
	return dc, nil
}

// OpenConnector parses dsn (see ParseDSN).
func (Driver) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewConnector(cfg)
}

// Connector opens connections to one node. Its connections share one gRPC
// client connection (HTTP/2 multiplexes their streams); each has a stream,
// which is its SQL session. sql.OpenDB(connector) uses it; DB.Close closes
// it.
type Connector struct {
	cfg Config
	mu  struct {
		sync.Mutex
		cc     *grpc.ClientConn
		closed bool
	}
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a connector for cfg; zero fields take their defaults.
func NewConnector(cfg Config) (*Connector, error) {
	cfg.ensureDefaults()
	return &Connector{cfg: cfg}, nil
}

// Driver returns the driver.
func (c *Connector) Driver() driver.Driver { return Driver{} }

func (c *Connector) clientConn() (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.closed {
		return nil, errClosed
	}
	if c.mu.cc == nil {
		// Rows and arguments may be large; the node bounds what it
		// accepts.
		cc, err := grpc.NewClient(c.cfg.Addr, append(pb.WindowDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))...)
		if err != nil {
			return nil, fmt.Errorf("driver: %w", err)
		}
		c.mu.cc = cc
	}
	return c.mu.cc, nil
}

// Connect opens a stream and a session on it. ctx and Config.Timeout bound
// the wait for the node.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	cc, err := c.clientConn()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// The stream outlives ctx, since it is the connection; until the
	// session is open, ctx's end ends it. A node that refuses connections
	// fails at once (no WaitForReady), as a MySQL server would.
	sctx, scancel := context.WithCancel(context.Background())
	stopOpening := context.AfterFunc(ctx, scancel)
	if c.cfg.Region != "" {
		sctx = metadata.AppendToOutgoingContext(sctx, regionMetadataKey, c.cfg.Region)
	}
	stream, err := pb.NewSQLClient(cc).Session(sctx)
	if err == nil {
		cn := newConn(c.cfg, stream, scancel)
		err = cn.open(ctx, &pb.SQLOpen{User: c.cfg.User, Database: c.cfg.Database, Region: c.cfg.Region,
			ReadStalenessNanos: int64(c.cfg.Staleness)})
		if err == nil && stopOpening() {
			return cn, nil
		}
		cn.shut()
	}
	scancel()
	var se *Error
	var lost *errConnLost
	switch {
	case errors.As(err, &se):
		return nil, se
	case ctx.Err() != nil:
		return nil, fmt.Errorf("driver: opening a session on %s: %w", c.cfg.Addr, ctx.Err())
	case errors.As(err, &lost):
		err = lost.err
	}
	if s, ok := status.FromError(err); ok {
		return nil, fmt.Errorf("driver: cannot open a session on %s: %s", c.cfg.Addr, s.Message())
	}
	return nil, fmt.Errorf("driver: cannot open a session on %s: %w", c.cfg.Addr, err)
}

// Close closes the gRPC client connection, and with it every connection
// the connector opened.
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.closed = true
	if c.mu.cc == nil {
		return nil
	}
	err := c.mu.cc.Close()
	c.mu.cc = nil
	return err
}
