package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cockroachdb/errors"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

func dial(host string) (*grpc.ClientConn, error) {
	if host == "" {
		return nil, errors.New("--host is required")
	}
	return grpc.NewClient(host, append(pb.WindowDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))...)
}

// rpcError turns a gRPC status into the message users read.
func rpcError(err error, host string) error {
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch s.Code().String() {
	case "Unavailable":
		return errors.Newf("cannot reach %s: %s (is the node running? check --host)", host, s.Message())
	case "Unknown":
		return errors.Newf("%s (the write may or may not have been applied: read the key before retrying)", s.Message())
	}
	return errors.Newf("%s: %s", strings.ToLower(s.Code().String()), s.Message())
}

func runInit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("init", stdout)
	host := fs.String("host", "127.0.0.1:7400", "gRPC `HOST:PORT` of the node to bootstrap the cluster on")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	conn, err := dial(*host)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := pb.NewAdminClient(conn).Init(ctx, &pb.InitRequest{})
	if err != nil {
		return rpcError(err, *host)
	}
	fmt.Fprintf(stdout, "cluster %s initialized; node %d at %s\n", resp.ClusterId, resp.NodeId, *host)
	return nil
}

const kvUsage = `Usage:
  meridian kv put KEY VALUE --host HOST:PORT
  meridian kv get KEY --host HOST:PORT          (prints the value alone; exit 1 if absent)
  meridian kv del KEY --host HOST:PORT
  meridian kv scan [START [END]] [--limit N] --host HOST:PORT
  meridian kv txn [SCRIPT] [--read-only] [--at TS] [--max-staleness D] --host HOST:PORT
      runs the script (a file, or standard input) as one transaction, one
      operation per line: get KEY | put KEY VALUE | del KEY | scan [START [END]]
      (# starts a comment). Prints "KEY<TAB>VALUE" for every row read
      ("KEY<TAB>(not found)" for a missing key), then "committed at TS".
`

func runKV(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, kvUsage)
		return errors.New("kv needs an operation: put, get, del, scan or txn")
	}
	op := args[0]
	fs := newFlagSet("kv "+op, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, kvUsage) }
	host := fs.String("host", "127.0.0.1:7400", "gRPC `HOST:PORT` of any node")
	limit := fs.Int("limit", 0, "scan: at most this many keys (0: all)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	readOnly := fs.Bool("read-only", false, "txn: a lock-free snapshot transaction")
	at := fs.Int64("at", 0, "txn: read-only at this timestamp (nanoseconds since the Unix epoch): an exact stale read")
	staleness := fs.Duration("max-staleness", 0, "txn: read-only, bounded staleness: the freshest data the nearest replica has, at most this old")
	// Flags may follow the positional arguments.
	var pos []string
	rest := args[1:]
	for len(rest) > 0 {
		if help, err := parseFlags(fs, rest); help || err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	want := map[string][2]int{"put": {2, 2}, "get": {1, 1}, "del": {1, 1}, "scan": {0, 2}, "txn": {0, 1}}
	n, ok := want[op]
	if !ok {
		fmt.Fprint(stderr, kvUsage)
		return errors.Newf("unknown kv operation %q", op)
	}
	if len(pos) < n[0] || len(pos) > n[1] {
		fmt.Fprint(stderr, kvUsage)
		return errors.Newf("kv %s takes %d to %d arguments, got %d", op, n[0], n[1], len(pos))
	}
	conn, err := dial(*host)
	if err != nil {
		return err
	}
	defer conn.Close()
	kv := pb.NewKVClient(conn)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	switch op {
	case "txn":
		req, err := readScript(pos, stdin)
		if err != nil {
			return err
		}
		req.ReadOnly = *readOnly || *at != 0 || *staleness != 0
		req.ReadTimestamp, req.MaxStalenessNanos = *at, staleness.Nanoseconds()
		resp, err := kv.Txn(ctx, req)
		if err != nil {
			return rpcError(err, *host)
		}
		for i, op := range req.Ops {
			r := resp.Results[i]
			switch op.Kind {
			case pb.TxnScriptOp_GET:
				if r.Found {
					fmt.Fprintf(stdout, "%s\t%s\n", op.Key, r.Value)
				} else {
					fmt.Fprintf(stdout, "%s\t(not found)\n", op.Key)
				}
			case pb.TxnScriptOp_SCAN:
				for _, kv := range r.Rows {
					fmt.Fprintf(stdout, "%s\t%s\n", kv.Key, kv.Value)
				}
			}
		}
		fmt.Fprintf(stdout, "committed at %d\n", resp.CommitTs)
	case "put":
		if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(pos[0]), Value: []byte(pos[1])}); err != nil {
			return rpcError(err, *host)
		}
	case "del":
		if _, err := kv.Delete(ctx, &pb.DeleteRequest{Key: []byte(pos[0])}); err != nil {
			return rpcError(err, *host)
		}
	case "get":
		resp, err := kv.Get(ctx, &pb.GetRequest{Key: []byte(pos[0])})
		if err != nil {
			return rpcError(err, *host)
		}
		if !resp.Found {
			fmt.Fprintf(stderr, "key %q not found\n", pos[0])
			return exitCode(1)
		}
		fmt.Fprintln(stdout, string(resp.Value))
	case "scan":
		req := &pb.ScanRequest{Limit: uint32(*limit)}
		if len(pos) > 0 {
			req.StartKey = []byte(pos[0])
		}
		if len(pos) > 1 {
			req.EndKey = []byte(pos[1])
		}
		resp, err := kv.Scan(ctx, req)
		if err != nil {
			return rpcError(err, *host)
		}
		for _, kv := range resp.Kvs {
			fmt.Fprintf(stdout, "%s\t%s\n", kv.Key, kv.Value)
		}
	}
	return nil
}

// readScript parses a transaction script from the file named in pos, or
// from stdin.
func readScript(pos []string, stdin io.Reader) (*pb.TxnScriptRequest, error) {
	var data []byte
	var err error
	name := "standard input"
	if len(pos) > 0 {
		name = pos[0]
		data, err = os.ReadFile(pos[0])
	} else {
		data, err = io.ReadAll(stdin)
	}
	if err != nil {
		return nil, errors.Wrap(err, "reading the script")
	}
	req := &pb.TxnScriptRequest{}
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func() error {
			return errors.Newf("%s:%d: %q: want get KEY | put KEY VALUE | del KEY | scan [START [END]]", name, i+1, strings.TrimSpace(line))
		}
		op := &pb.TxnScriptOp{}
		switch {
		case f[0] == "get" && len(f) == 2:
			op.Kind, op.Key = pb.TxnScriptOp_GET, []byte(f[1])
		case f[0] == "put" && len(f) == 3:
			op.Kind, op.Key, op.Value = pb.TxnScriptOp_PUT, []byte(f[1]), []byte(f[2])
		case (f[0] == "del" || f[0] == "delete") && len(f) == 2:
			op.Kind, op.Key = pb.TxnScriptOp_DELETE, []byte(f[1])
		case f[0] == "scan" && len(f) <= 3:
			op.Kind = pb.TxnScriptOp_SCAN
			if len(f) > 1 {
				op.Key = []byte(f[1])
			}
			if len(f) > 2 {
				op.EndKey = []byte(f[2])
			}
		default:
			return nil, bad()
		}
		req.Ops = append(req.Ops, op)
	}
	if len(req.Ops) == 0 {
		return nil, errors.Newf("the script on %s has no operations", name)
	}
	return req, nil
}

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("status", stdout)
	host := fs.String("host", "127.0.0.1:7400", "gRPC `HOST:PORT` of any node")
	format := fs.String("format", "text", "output format: text or json")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return errors.Newf("--format %q: want text or json", *format)
	}
	conn, err := dial(*host)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := pb.NewAdminClient(conn).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return rpcError(err, *host)
	}
	if *format == "json" {
		data, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(st)
		if err != nil {
			return err
		}
		var v any
		_ = json.Unmarshal(data, &v)
		out, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	printStatus(stdout, st)
	return nil
}

func printStatus(w io.Writer, st *pb.StatusResponse) {
	if st.ClusterId == "" {
		fmt.Fprintln(w, "this node is not part of a cluster yet: run `meridian init` or start it with --join")
		return
	}
	fmt.Fprintf(w, "cluster %s (answered by node %d)\n\n", st.ClusterId, st.NodeId)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tREGION\tZONE\tLIVE\tEPSILON")
	for _, n := range st.Nodes {
		eps := "-"
		if c := n.Clock; c != nil {
			eps = time.Duration(c.EpsilonNanos).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%s\n", n.Node.GetNodeId(), n.Node.GetAddress(), n.Node.GetRegion(), n.Node.GetZone(), n.Live, eps)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTART\tEND\tREPLICAS (node:id)\tLEADER\tTERM\tAPPLIED\tLEASE")
	for _, g := range st.Groups {
		d := g.Descriptor_
		var reps []string
		for _, r := range d.Replicas {
			s := strconv.FormatUint(r.NodeId, 10) + ":" + strconv.FormatUint(r.ReplicaId, 10)
			if r.Type == pb.ReplicaType_LEARNER {
				s += "(learner)"
			}
			reps = append(reps, s)
		}
		end := fmt.Sprintf("%q", d.EndKey)
		if len(d.EndKey) == 0 {
			end = "∞"
		}
		fmt.Fprintf(tw, "%d\t%q\t%s\t%s\t%d\t%d\t%d\t%v\n", d.GroupId, d.StartKey, end, strings.Join(reps, ","),
			g.LeaderNode, g.Term, g.AppliedIndex, g.LeaseValid)
	}
	tw.Flush()
}
