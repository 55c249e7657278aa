package timemaster

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/meridiandb/meridian/truetime/ntpwire"
)

// Options configures a Server.
type Options struct {
	// Uncertainty is the declared bound on this master's clock error,
	// sent as root dispersion. Default 1ms. It must cover the host clock's
	// real error: a master that declares too little is a liar that its
	// clients outvote only if they have enough honest masters.
	Uncertainty time.Duration

	// Now is the master's clock. Default time.Now (the host's wall clock,
	// which on a real master is disciplined by GPS/PTP/NTP).
	Now func() time.Time

	// ReferenceID is the 4-character reference identifier sent at stratum
	// 1. Default "MRDN".
	ReferenceID string

	// Logger receives drop reasons at debug level and lifecycle at info.
	// Default slog.Default().
	Logger *slog.Logger

	// TestingOffset is added to every timestamp the master sends, turning
	// it into a liar for fault tests (`--testing-offset`).
	TestingOffset time.Duration
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Uncertainty == 0 {
		o.Uncertainty = time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReferenceID == "" {
		o.ReferenceID = "MRDN"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.Uncertainty < 0 || o.Uncertainty > 16*time.Second {
		return errors.Newf("timemaster: uncertainty must be in [0, 16s] (NTP's MAXDISP), got %s", o.Uncertainty)
	}
	if len(o.ReferenceID) > 4 {
		return errors.Newf("timemaster: reference ID %q longer than 4 bytes", o.ReferenceID)
	}
	return nil
}

// Drop reasons counted in Stats.
const (
	DropTruncated  = "truncated"
	DropOversized  = "oversized"
	DropBadLength  = "bad_length"
	DropBadVersion = "bad_version"
	DropBadMode    = "bad_mode"
)

var dropReasons = []string{DropTruncated, DropOversized, DropBadLength, DropBadVersion, DropBadMode}

// Stats counts what the server did.
type Stats struct {
	Answered   int64            `json:"answered"`
	Dropped    map[string]int64 `json:"dropped"`
	ReadErrors int64            `json:"read_errors"`
	SendErrors int64            `json:"send_errors"`
}

// Server answers NTP client requests. Respond is safe for concurrent use.
type Server struct {
	opts  Options
	refID uint32

	answered, readErrors, sendErrors atomic.Int64
	dropped                          map[string]*atomic.Int64 // fixed keys, built in New
}

// New returns a server; opts defaults are filled in on a copy.
func New(opts Options) (*Server, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, dropped: map[string]*atomic.Int64{}}
	var id [4]byte
	copy(id[:], opts.ReferenceID)
	s.refID = uint32(id[0])<<24 | uint32(id[1])<<16 | uint32(id[2])<<8 | uint32(id[3])
	for _, r := range dropReasons {
		s.dropped[r] = new(atomic.Int64)
	}
	return s, nil
}

// Uncertainty returns the declared uncertainty.
func (s *Server) Uncertainty() time.Duration { return s.opts.Uncertainty }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Answered:   s.answered.Load(),
		ReadErrors: s.readErrors.Load(),
		SendErrors: s.sendErrors.Load(),
		Dropped:    map[string]int64{},
	}
	for r, c := range s.dropped {
		st.Dropped[r] = c.Load()
	}
	return st
}

func dropReason(err error) string {
	switch {
	case errors.Is(err, ntpwire.ErrTruncated):
		return DropTruncated
	case errors.Is(err, ntpwire.ErrOversized):
		return DropOversized
	case errors.Is(err, ntpwire.ErrBadLength):
		return DropBadLength
	case errors.Is(err, ntpwire.ErrBadVersion):
		return DropBadVersion
	default:
		return DropBadMode
	}
}

// Respond builds the reply to req, received at recv, appending it to
// out[:0] and returning it; transmit is read just before the reply is
// finished, for its transmit timestamp. A request that must not be answered
// returns an error (counted as a drop) and no reply.
func (s *Server) Respond(req []byte, recv time.Time, transmit func() time.Time, out []byte) ([]byte, error) {
	q, err := ntpwire.ParseRequest(req)
	if err != nil {
		s.dropped[dropReason(err)].Add(1)
		return nil, err
	}
	off := s.opts.TestingOffset
	t2 := recv.Add(off).UnixNano()
	p := ntpwire.Packet{
		Leap:           ntpwire.LeapNoWarning,
		Version:        q.Version,
		Mode:           ntpwire.ModeServer,
		Stratum:        ntpwire.StratumPrimary,
		Poll:           q.Poll,
		Precision:      ntpwire.PrecisionDefault,
		RootDelay:      0,
		RootDispersion: ntpwire.ShortFromDuration(s.opts.Uncertainty),
		ReferenceID:    s.refID,
		ReferenceTime:  ntpwire.TimestampFromUnixNano(t2),
		OriginTime:     q.TransmitTime,
		ReceiveTime:    ntpwire.TimestampFromUnixNano(t2),
	}
	t3 := max(transmit().Add(off).UnixNano(), t2)
	p.TransmitTime = ntpwire.TimestampFromUnixNano(t3)
	s.answered.Add(1)
	return p.AppendTo(out[:0]), nil
}

// Serve answers requests on conn until ctx is done (then it closes conn and
// returns nil) or conn fails permanently. Bad packets and transient errors
// are counted and skipped.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	log := s.opts.Logger
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-stop:
		}
		_ = conn.Close()
	}()
	defer func() { close(stop); wg.Wait() }()

	// One byte more than the largest acceptable packet, so that an
	// oversized datagram is seen as such rather than silently truncated.
	buf := make([]byte, ntpwire.MaxPacketLen+1)
	out := make([]byte, 0, ntpwire.HeaderLen)
	transientErrors := 0
	for {
		n, addr, err := conn.ReadFrom(buf)
		recv := s.opts.Now()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				if ctx.Err() != nil {
					return nil
				}
				return errors.Wrap(err, "timemaster: connection closed")
			}
			s.readErrors.Add(1)
			transientErrors++
			if transientErrors > 1000 {
				return errors.Wrap(err, "timemaster: persistent read errors")
			}
			log.Debug("timemaster: read error", "err", err)
			continue
		}
		transientErrors = 0
		reply, err := s.Respond(buf[:n], recv, s.opts.Now, out)
		if err != nil {
			log.Debug("timemaster: dropped packet", "from", addr, "bytes", n, "reason", err)
			continue
		}
		if _, err := conn.WriteTo(reply, addr); err != nil {
			s.sendErrors.Add(1)
			log.Debug("timemaster: send failed", "to", addr, "err", err)
		}
	}
}

// Listen opens the UDP socket for addr (HOST:PORT; port 0 picks one).
func Listen(addr string) (net.PacketConn, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, errors.Wrapf(err, "timemaster: listen on %s", addr)
	}
	return conn, nil
}
