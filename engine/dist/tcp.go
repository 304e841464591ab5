package dist

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// groupHello opens a Group connection, told apart from the rendezvous's.
const groupHello = "fsodgpu-allreduce-v1"

// Group is a world of processes joined over TCP in a star around rank 0,
// with the connections kept open for a whole training run. It carries the
// control messages of multi-process training (Step, Barrier, the choice of
// reducer) and is itself the multi-process reducer for the CPU build and the
// fallback where NCCL is missing: each process holds its share of the
// replicas (global replica index = rank·local replicas + r), every rank
// sends rank 0 each of its replicas' gradients, and rank 0 sums them in
// float64 in global replica order, exactly as Host does for one process
// running all replicas, so the two give bit-identical means. Sending every
// replica's gradient (not a local partial sum) is what keeps that order; it
// costs local-replicas times the traffic of a ring all-reduce.
//
// No hang when ranks diverge. Every message is a frame (a type byte, then
// its body); between frames each side sends a heartbeat frame every
// DefaultHeartbeat, and every read and write of a connection fails when nothing
// arrives (or nothing can be sent) for PeerTimeout. A peer that exits or is
// killed closes its connection, which the other side sees at once; a peer
// whose machine or network is gone stops heartbeating and is declared dead
// after PeerTimeout. Control messages say where each rank is ("iteration 7
// of base", "the end of base training"), and rank 0 compares them: ranks at
// different places (plans that differ, one resumed elsewhere) fail on every
// rank with an error naming the ranks and where each was. Rank 0 sends its
// error to every rank before returning it, so all ranks fail, not just one.
// A stuck peer that still heartbeats (a deadlock inside a collective) is not
// caught here: the NCCL reducer bounds its own wait (NCCLRanks, FSODGPU_NCCL_TIMEOUT).
type Group struct {
	w     World
	peers []*peer // rank 0: index r-1 is rank r; others: one, rank 0
	// peerTimeout (nanoseconds; SetPeerTimeout) is read by the heartbeat
	// goroutines' writes too, hence atomic; beat (the heartbeat period) is fixed by Connect.
	peerTimeout atomic.Int64
	beat        time.Duration
	stop        chan struct{}
	where       string // what this rank is doing, for errors
}

// DefaultPeerTimeout is how long a connection may stay silent (not even a
// heartbeat) before the peer is declared dead; DefaultHeartbeat how often
// an idle side says it is alive. FSODGPU_DIST_PEER_TIMEOUT overrides the
// first (a Go duration) in Connect.
var (
	DefaultPeerTimeout = 2 * time.Minute
	DefaultHeartbeat   = 5 * time.Second
)

// Frame types.
const (
	frameHeartbeat = 'H'
	frameMessage   = 'M' // u32 length, a control message
	frameGrads     = 'G' // a rank's replicas' gradients (writeReplicas)
	frameAnswer    = 'A' // rank 0's mean (writeAnswer)
	frameError     = 'E' // u32 length, rank 0's error: every rank fails with it
)

// peer is one connection: reads and writes reset its deadline, so only
// silence longer than the group's PeerTimeout fails them; wmu keeps the
// heartbeat goroutine's frames between the main code's.
type peer struct {
	rank int
	conn net.Conn
	rd   *bufio.Reader
	wr   *bufio.Writer
	wmu  sync.Mutex
}

// deadlineConn renews the read or write deadline before every call.
type deadlineConn struct {
	net.Conn
	g *Group
}

func (c deadlineConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.g.PeerTimeout()))
	return c.Conn.Read(b)
}

func (c deadlineConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.g.PeerTimeout()))
	return c.Conn.Write(b)
}

func (g *Group) newPeer(rank int, j joined) *peer {
	dc := deadlineConn{Conn: j.conn, g: g}
	// The hello reader may hold bytes the peer sent after its hello.
	early, _ := j.rd.Peek(j.rd.Buffered())
	rd := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), dc), 1<<20)
	return &peer{rank: rank, conn: j.conn, rd: rd, wr: bufio.NewWriterSize(dc, 1<<20)}
}

// Connect joins the world described by w: rank 0 listens on MasterPort and
// waits for every other rank; the others dial MasterAddr:MasterPort until
// rank 0 answers. Errors name the ranks that did not come within timeout,
// or what disagreed. A world of one needs no connections.
func Connect(w World, timeout time.Duration) (*Group, error) {
	g := &Group{w: w, beat: DefaultHeartbeat, stop: make(chan struct{}), where: "joining"}
	g.SetPeerTimeout(DefaultPeerTimeout)
	if v := os.Getenv("FSODGPU_DIST_PEER_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("FSODGPU_DIST_PEER_TIMEOUT=%q: want a positive duration such as 2m", v)
		}
		g.SetPeerTimeout(d)
	}
	if w.Size == 1 {
		return g, nil
	}
	deadline := time.Now().Add(timeout)
	if w.Rank == 0 {
		peers, err := acceptRanks(w, groupHello, "all-reduce group", deadline, timeout)
		if err != nil {
			return nil, err
		}
		for r := 1; r < w.Size; r++ {
			c := peers[r].conn
			if _, err := io.WriteString(c, "OK\n"); err != nil {
				for _, p := range peers[1:] {
					p.conn.Close()
				}
				return nil, fmt.Errorf("all-reduce group: answering rank %d: %w", r, err)
			}
			c.SetDeadline(time.Time{})
			g.peers = append(g.peers, g.newPeer(r, peers[r]))
		}
	} else {
		j, line, err := dialRank0(w, groupHello, "all-reduce group", deadline, timeout)
		if err != nil {
			if strings.Contains(err.Error(), "could not reach rank 0") {
				err = errors.New(strings.Replace(err.Error(), "could not reach rank 0", "could not join rank 0", 1))
			}
			return nil, err
		}
		if line != "OK" {
			j.conn.Close()
			return nil, fmt.Errorf("all-reduce group: rank %d: unexpected answer %q from rank 0", w.Rank, line)
		}
		j.conn.SetDeadline(time.Time{})
		g.peers = []*peer{g.newPeer(0, j)}
	}
	for _, p := range g.peers {
		go g.heartbeat(p)
	}
	return g, nil
}

// PeerTimeout is how long a connection may stay silent before its peer is declared dead.
func (g *Group) PeerTimeout() time.Duration { return time.Duration(g.peerTimeout.Load()) }

// SetPeerTimeout changes PeerTimeout (safe at any time; it applies from the next read or write).
func (g *Group) SetPeerTimeout(d time.Duration) { g.peerTimeout.Store(int64(d)) }

// heartbeat sends a heartbeat frame on p every Heartbeat until Close.
func (g *Group) heartbeat(p *peer) {
	t := time.NewTicker(g.beat)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			p.wmu.Lock()
			p.wr.WriteByte(frameHeartbeat)
			err := p.wr.Flush()
			p.wmu.Unlock()
			if err != nil {
				return // the reads on this connection will say why
			}
		}
	}
}

// Close drops the connections.
func (g *Group) Close() error {
	var first error
	if g.stop != nil {
		select {
		case <-g.stop:
		default:
			close(g.stop)
		}
	}
	for _, p := range g.peers {
		if err := p.conn.Close(); err != nil && first == nil {
			first = err
		}
	}
	g.peers = nil
	return first
}

func (g *Group) Name() string { return "tcp" }

// World is the world this group joined.
func (g *Group) World() World { return g.w }

// send writes one frame: typ, then body (which writes into the buffer).
func (p *peer) send(typ byte, body func(w *bufio.Writer) error) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.wr.WriteByte(typ)
	if body != nil {
		if err := body(p.wr); err != nil {
			return err
		}
	}
	return p.wr.Flush()
}

func writeString(w *bufio.Writer, s string) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(len(s)))
	w.Write(b[:])
	_, err := w.WriteString(s)
	return err
}

func readString(r *bufio.Reader) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	n := binary.LittleEndian.Uint32(b[:])
	if n > 1<<20 {
		return "", fmt.Errorf("announces a %d-byte message", n)
	}
	msg := make([]byte, n)
	_, err := io.ReadFull(r, msg)
	return string(msg), err
}

// next reads the next frame's type, skipping heartbeats. An error frame is
// returned as that error.
func (p *peer) next() (byte, error) {
	for {
		typ, err := p.rd.ReadByte()
		if err != nil {
			return 0, err
		}
		switch typ {
		case frameHeartbeat:
			continue
		case frameError:
			msg, err := p.readString()
			if err != nil {
				return 0, err
			}
			return frameError, errors.New(msg)
		}
		return typ, nil
	}
}

func (p *peer) readString() (string, error) { return readString(p.rd) }

// lost describes a failed read or write on the connection to peer rank.
func (g *Group) lost(rank int, err error) error {
	why := err.Error()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		why = fmt.Sprintf("nothing from it for %v (FSODGPU_DIST_PEER_TIMEOUT), not even a heartbeat", g.PeerTimeout())
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		why = "its connection closed (the process exited or was killed)"
	}
	return fmt.Errorf("dist: rank %d lost rank %d while at %s: %s", g.w.Rank, rank, g.where, why)
}

// failAll sends err to every peer (best effort) and returns it: rank 0's
// way of making every rank fail with the same message.
func (g *Group) failAll(err error) error {
	for _, p := range g.peers {
		p.send(frameError, func(w *bufio.Writer) error { return writeString(w, err.Error()) })
	}
	return err
}

// expect reads the next frame from p and checks its type.
func (g *Group) expect(p *peer, want byte) error {
	typ, err := p.next()
	if typ == frameError {
		return err // rank 0's verdict, already naming the ranks
	}
	if err != nil {
		return g.lost(p.rank, err)
	}
	if typ != want {
		return fmt.Errorf("dist: rank %d sent a %q frame while rank %d is at %s and expected %q: the ranks diverged", p.rank, typ, g.w.Rank, g.where, want)
	}
	return nil
}

// exchange is one control round trip: every rank sends where (what it is
// doing) and a payload to rank 0; rank 0 checks that every rank is at the
// same where (else the ranks diverged: the error names the first rank that
// differs and both places), calls decide with every rank's payload (index =
// rank) and sends its answer, or its error, to every rank. Every rank
// returns the answer, or an error (rank 0's, or a lost peer's).
func (g *Group) exchange(where, payload string, decide func(payloads []string) (string, error)) (string, error) {
	g.where = where
	if g.w.Size == 1 {
		return decide([]string{payload})
	}
	msg := where + "\n" + payload
	if g.w.Rank != 0 {
		p := g.peers[0]
		if err := p.send(frameMessage, func(w *bufio.Writer) error { return writeString(w, msg) }); err != nil {
			return "", g.lost(0, err)
		}
		if err := g.expect(p, frameMessage); err != nil {
			return "", err
		}
		ans, err := p.readString()
		if err != nil {
			return "", g.lost(0, err)
		}
		return ans, nil
	}
	payloads := []string{payload}
	for _, p := range g.peers {
		if err := g.expect(p, frameMessage); err != nil {
			return "", g.failAll(err)
		}
		m, err := p.readString()
		if err != nil {
			return "", g.failAll(g.lost(p.rank, err))
		}
		at, pl, _ := strings.Cut(m, "\n")
		if at != where {
			return "", g.failAll(fmt.Errorf("dist: the ranks diverged: rank 0 is at %s, rank %d at %s", where, p.rank, at))
		}
		payloads = append(payloads, pl)
	}
	ans, err := decide(payloads)
	if err != nil {
		return "", g.failAll(err)
	}
	for _, p := range g.peers {
		if err := p.send(frameMessage, func(w *bufio.Writer) error { return writeString(w, ans) }); err != nil {
			return "", g.failAll(g.lost(p.rank, err))
		}
	}
	return ans, nil
}

// Step is the per-iteration handshake of multi-process training: every
// rank says where it is (e.g. "iteration 7 of base (max_iter 20, 84
// parameters, plan 3fa2c1d0)") and whether it wants to stop (a signal).
// Rank 0 compares: any difference in where fails every rank, naming the
// ranks; otherwise stop is true on every rank when any rank asked, and by
// names the ranks that did, so all ranks stop at the same iteration.
func (g *Group) Step(where string, stop bool) (stopAll bool, by string, err error) {
	flag := "0"
	if stop {
		flag = "1"
	}
	ans, err := g.exchange(where, flag, func(flags []string) (string, error) {
		var stoppers []string
		for r, f := range flags {
			if f == "1" {
				stoppers = append(stoppers, strconv.Itoa(r))
			}
		}
		if len(stoppers) == 0 {
			return "go", nil
		}
		return "stop " + strings.Join(stoppers, ","), nil
	})
	if err != nil {
		return false, "", err
	}
	if rest, ok := strings.CutPrefix(ans, "stop "); ok {
		return true, "rank(s) " + rest, nil
	}
	return false, "", nil
}

// Barrier returns once every rank has called it with the same where (rank
// 0 writes checkpoints while the others wait at one); ranks at different
// barriers, or one at a barrier while another trains, fail.
func (g *Group) Barrier(where string) error {
	_, err := g.exchange(where, "", func([]string) (string, error) { return "", nil })
	return err
}

// Agree is a control round trip at where: rank 0 calls decide with every
// rank's msg (index = rank); every rank returns rank 0's answer or its error.
func (g *Group) Agree(where, msg string, decide func(msgs []string) (string, error)) (string, error) {
	return g.exchange(where, msg, decide)
}

// grad is one replica's gradient of one parameter on the wire; nil data is a nil gradient.
type grad struct {
	shape []int
	data  []float32
}

// AllReduceMean replaces grads[r][i] (this process's local replica r) by the
// mean over every replica of every rank, like Host over all of them. Every
// rank must hold the same number of local replicas and parameters; a
// mismatch is an error on every rank.
func (g *Group) AllReduceMean(bes []backend.Backend, grads [][]*backend.Tensor) error {
	if len(grads) != len(bes) {
		return fmt.Errorf("dist: %d gradient lists for %d backends", len(grads), len(bes))
	}
	if g.w.Size == 1 {
		return Host{}.AllReduceMean(bes, grads)
	}
	if len(grads) == 0 {
		return fmt.Errorf("dist: rank %d holds no replicas", g.w.Rank)
	}
	local := make([][]grad, len(grads))
	for r := range grads {
		local[r] = make([]grad, len(grads[r]))
		for i, t := range grads[r] {
			if t != nil {
				local[r][i] = grad{shape: append([]int(nil), t.Shape...), data: bes[r].ToFloat32(t)}
			}
		}
	}
	var mean []grad
	if g.w.Rank == 0 {
		all := [][][]grad{local}
		for _, p := range g.peers {
			if err := g.expect(p, frameGrads); err != nil {
				return g.failAll(err)
			}
			reps, err := readReplicas(p.rd)
			if err != nil {
				return g.failAll(fmt.Errorf("dist: reading rank %d's gradients: %w", p.rank, err))
			}
			all = append(all, reps)
		}
		var err error
		if mean, err = sumInOrder(all); err != nil {
			return g.failAll(err)
		}
		for _, p := range g.peers {
			if err := p.send(frameAnswer, func(w *bufio.Writer) error { return writeGrads(w, mean) }); err != nil {
				return g.failAll(fmt.Errorf("dist: sending the mean to rank %d: %w", p.rank, g.lost(p.rank, err)))
			}
		}
	} else {
		p := g.peers[0]
		if err := p.send(frameGrads, func(w *bufio.Writer) error { return writeReplicas(w, local) }); err != nil {
			return g.lost(0, err)
		}
		if err := g.expect(p, frameAnswer); err != nil {
			return err
		}
		var err error
		if mean, err = readGrads(p.rd); err != nil {
			return fmt.Errorf("dist: rank %d reading the mean from rank 0: %w", g.w.Rank, err)
		}
		if len(mean) != len(local[0]) {
			return fmt.Errorf("dist: rank %d has %d gradients, the mean has %d", g.w.Rank, len(local[0]), len(mean))
		}
	}
	for r := range grads {
		for i := range grads[r] {
			if grads[r][i] != nil {
				bes[r].Free(grads[r][i])
				grads[r][i] = nil
			}
			if mean[i].data != nil {
				grads[r][i] = bes[r].FromFloat32(mean[i].data, mean[i].shape...)
			}
		}
	}
	return nil
}

// sumInOrder is reduceOne over all[rank][local replica][param], in global
// replica order (rank-major), with the same float64 sum and scaling.
func sumInOrder(all [][][]grad) ([]grad, error) {
	nLocal, nParam := len(all[0]), 0
	if nLocal > 0 {
		nParam = len(all[0][0])
	}
	for k, reps := range all {
		if len(reps) != nLocal {
			return nil, fmt.Errorf("dist: rank %d has %d local replicas, rank 0 has %d", k, len(reps), nLocal)
		}
		for r, gs := range reps {
			if len(gs) != nParam {
				return nil, fmt.Errorf("dist: rank %d replica %d has %d gradients, rank 0 has %d", k, r, len(gs), nParam)
			}
		}
	}
	inv := 1 / float64(len(all)*nLocal)
	out := make([]grad, nParam)
	for i := range out {
		var shape []int
		var sum []float64
		for k, reps := range all {
			for r := range reps {
				gr := reps[r][i]
				if gr.data == nil {
					continue
				}
				if sum == nil {
					shape, sum = gr.shape, make([]float64, len(gr.data))
				} else if !backend.SameShape(shape, gr.shape) || len(gr.data) != len(sum) {
					return nil, fmt.Errorf("dist: gradient %d is %v on rank %d replica %d but %v on another", i, gr.shape, k, r, shape)
				}
				for j, x := range gr.data {
					sum[j] += float64(x)
				}
			}
		}
		if sum == nil {
			continue
		}
		m := make([]float32, len(sum))
		for j, s := range sum {
			m[j] = float32(s * inv)
		}
		out[i] = grad{shape: shape, data: m}
	}
	return out, nil
}

// Wire format, little endian: a list of gradients is u32 count, then each
// as u8 present, and if present u32 rank, that many u32 dims, u64 length,
// the float32 bits.
func writeGrads(w *bufio.Writer, gs []grad) error {
	var b [8]byte
	u32 := func(v uint32) { binary.LittleEndian.PutUint32(b[:4], v); w.Write(b[:4]) }
	u32(uint32(len(gs)))
	for _, gr := range gs {
		if gr.data == nil {
			w.WriteByte(0)
			continue
		}
		w.WriteByte(1)
		u32(uint32(len(gr.shape)))
		for _, d := range gr.shape {
			u32(uint32(d))
		}
		binary.LittleEndian.PutUint64(b[:], uint64(len(gr.data)))
		w.Write(b[:])
		for _, x := range gr.data {
			u32(math.Float32bits(x))
		}
	}
	return nil
}

// maxWire bounds what a peer may announce, so a corrupt stream is an error, not a huge allocation.
const maxWire = 1 << 32

func readGrads(r *bufio.Reader) ([]grad, error) {
	var b [8]byte
	u32 := func() (uint32, error) {
		_, err := io.ReadFull(r, b[:4])
		return binary.LittleEndian.Uint32(b[:4]), err
	}
	n, err := u32()
	if err != nil {
		return nil, err
	}
	if n > 1<<24 {
		return nil, fmt.Errorf("announces %d gradients", n)
	}
	gs := make([]grad, n)
	for i := range gs {
		present, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if present == 0 {
			continue
		}
		nd, err := u32()
		if err != nil || nd > 16 {
			return nil, errors.Join(err, fmt.Errorf("gradient %d: bad rank %d", i, nd))
		}
		shape := make([]int, nd)
		size := 1
		for d := range shape {
			v, err := u32()
			if err != nil {
				return nil, err
			}
			shape[d] = int(v)
			if size *= int(v); size > maxWire {
				return nil, fmt.Errorf("gradient %d: shape %v too large", i, shape[:d+1])
			}
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		if l := binary.LittleEndian.Uint64(b[:]); l != uint64(size) || l > maxWire {
			return nil, fmt.Errorf("gradient %d: %d values for shape %v", i, l, shape)
		}
		data := make([]float32, size)
		for j := range data {
			v, err := u32()
			if err != nil {
				return nil, err
			}
			data[j] = math.Float32frombits(v)
		}
		gs[i] = grad{shape: shape, data: data}
	}
	return gs, nil
}

func writeReplicas(w *bufio.Writer, reps [][]grad) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(len(reps)))
	w.Write(b[:])
	for _, gs := range reps {
		writeGrads(w, gs)
	}
	return nil
}

func readReplicas(r *bufio.Reader) ([][]grad, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(b[:])
	if n > 1<<16 {
		return nil, fmt.Errorf("announces %d replicas", n)
	}
	reps := make([][]grad, n)
	for k := range reps {
		var err error
		if reps[k], err = readGrads(r); err != nil {
			return nil, fmt.Errorf("replica %d: %w", k, err)
		}
	}
	return reps, nil
}
