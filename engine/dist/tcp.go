package dist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fsodgpu/fsodgpu/engine/backend"
)

// groupHello opens a Group connection, told apart from the rendezvous's.
const groupHello = "fsodgpu-allreduce-v1"

// Group is a world of processes joined over TCP in a star around rank 0,
// with the connections kept open for the all-reduces of a whole training
// run. It is the multi-process reducer for the CPU build and the fallback
// where NCCL is missing: each process holds its share of the replicas
// (global replica index = rank·local replicas + r), every rank sends rank 0
// each of its replicas' gradients, and rank 0 sums them in float64 in
// global replica order, exactly as Host does for one process running all
// replicas, so the two give bit-identical means. Sending every replica's
// gradient (not a local partial sum) is what keeps that order; it costs
// local-replicas times the traffic of a ring all-reduce.
type Group struct {
	w     World
	peers []*bufio.ReadWriter // rank 0: index r-1 is rank r; others: one, rank 0
	conns []net.Conn
}

// Connect joins the world described by w: rank 0 listens on MasterPort and
// waits for every other rank; the others dial MasterAddr:MasterPort until
// rank 0 answers. Errors name the ranks that did not come within timeout,
// or what disagreed. A world of one needs no connections.
func Connect(w World, timeout time.Duration) (*Group, error) {
	g := &Group{w: w}
	if w.Size == 1 {
		return g, nil
	}
	deadline := time.Now().Add(timeout)
	if w.Rank == 0 {
		return g, g.serve(deadline, timeout)
	}
	return g, g.join(deadline, timeout)
}

func (g *Group) serve(deadline time.Time, timeout time.Duration) error {
	w := g.w
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(w.MasterPort)))
	if err != nil {
		return fmt.Errorf("all-reduce group: rank 0 cannot listen on port %d (MASTER_PORT): %w", w.MasterPort, err)
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(deadline)
	byRank := map[int]net.Conn{}
	fail := func(err error) error {
		for _, c := range byRank {
			c.Close()
		}
		return err
	}
	for len(byRank) < w.Size-1 {
		c, err := ln.Accept()
		if err != nil {
			var missing []int
			for r := 1; r < w.Size; r++ {
				if byRank[r] == nil {
					missing = append(missing, r)
				}
			}
			return fail(fmt.Errorf("all-reduce group: rank(s) %v of world size %d did not join rank 0 on port %d within %v: %v", missing, w.Size, w.MasterPort, timeout, err))
		}
		c.SetDeadline(deadline)
		line, err := bufio.NewReader(c).ReadString('\n')
		var hello string
		var rank, size int
		if err == nil {
			_, err = fmt.Sscanf(line, "%s %d %d", &hello, &rank, &size)
		}
		switch {
		case err != nil || hello != groupHello:
			c.Close() // not one of ours
			continue
		case size != w.Size || rank < 1 || rank >= w.Size || byRank[rank] != nil:
			fmt.Fprintf(c, "ERR rank %d with world size %d: rank 0 has world size %d, or that rank already joined\n", rank, size, w.Size)
			c.Close()
			return fail(fmt.Errorf("all-reduce group: rank %d (world size %d) from %s does not fit rank 0's world size %d or joined twice", rank, size, c.RemoteAddr(), w.Size))
		}
		byRank[rank] = c
	}
	ranks := make([]int, 0, len(byRank))
	for r := range byRank {
		ranks = append(ranks, r)
	}
	sort.Ints(ranks)
	for _, r := range ranks {
		c := byRank[r]
		if _, err := io.WriteString(c, "OK\n"); err != nil {
			return fail(fmt.Errorf("all-reduce group: answering rank %d: %w", r, err))
		}
		c.SetDeadline(time.Time{})
		g.conns = append(g.conns, c)
		g.peers = append(g.peers, bufio.NewReadWriter(bufio.NewReaderSize(c, 1<<20), bufio.NewWriterSize(c, 1<<20)))
	}
	return nil
}

func (g *Group) join(deadline time.Time, timeout time.Duration) error {
	w := g.w
	addr := net.JoinHostPort(w.MasterAddr, strconv.Itoa(w.MasterPort))
	var lastErr error
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("all-reduce group: rank %d could not join rank 0 at %s (MASTER_ADDR:MASTER_PORT) within %v: %v", w.Rank, addr, timeout, lastErr)
		}
		c, err := net.DialTimeout("tcp", addr, min(left, 5*time.Second))
		if err != nil {
			lastErr = err
			time.Sleep(min(200*time.Millisecond, time.Until(deadline)))
			continue
		}
		c.SetDeadline(deadline)
		fmt.Fprintf(c, "%s %d %d\n", groupHello, w.Rank, w.Size)
		rd := bufio.NewReaderSize(c, 1<<20)
		line, err := rd.ReadString('\n')
		if err != nil {
			c.Close()
			return fmt.Errorf("all-reduce group: rank %d waiting for the world at %s: %w", w.Rank, addr, err)
		}
		if line = strings.TrimSpace(line); line != "OK" {
			c.Close()
			return fmt.Errorf("all-reduce group: rank 0 at %s refused rank %d: %s", addr, w.Rank, strings.TrimPrefix(line, "ERR "))
		}
		c.SetDeadline(time.Time{})
		g.conns = []net.Conn{c}
		g.peers = []*bufio.ReadWriter{bufio.NewReadWriter(rd, bufio.NewWriterSize(c, 1<<20))}
		return nil
	}
}

// Close drops the connections.
func (g *Group) Close() error {
	var first error
	for _, c := range g.conns {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	g.conns, g.peers = nil, nil
	return first
}

func (g *Group) Name() string { return "tcp" }

// World is the world this group joined.
func (g *Group) World() World { return g.w }

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
		var err error
		for k, p := range g.peers {
			var reps [][]grad
			if reps, err = readReplicas(p.Reader); err != nil {
				err = fmt.Errorf("dist: reading rank %d's gradients: %w", k+1, err)
				break
			}
			all = append(all, reps)
		}
		if err == nil {
			mean, err = sumInOrder(all)
		}
		for k, p := range g.peers {
			if werr := writeAnswer(p.Writer, mean, err); werr != nil && err == nil {
				err = fmt.Errorf("dist: sending the mean to rank %d: %w", k+1, werr)
			}
		}
		if err != nil {
			return err
		}
	} else {
		p := g.peers[0]
		if err := writeReplicas(p.Writer, local); err != nil {
			return fmt.Errorf("dist: rank %d sending its gradients: %w", g.w.Rank, err)
		}
		var err error
		if mean, err = readAnswer(p.Reader); err != nil {
			return fmt.Errorf("dist: rank %d: %w", g.w.Rank, err)
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
	return w.Flush()
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

// writeAnswer sends u8 0 and the mean, or u8 1, u32 length and rank 0's error.
func writeAnswer(w *bufio.Writer, mean []grad, failed error) error {
	if failed != nil {
		msg := failed.Error()
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(len(msg)))
		w.WriteByte(1)
		w.Write(b[:])
		w.WriteString(msg)
		return w.Flush()
	}
	w.WriteByte(0)
	writeGrads(w, mean)
	return w.Flush()
}

func readAnswer(r *bufio.Reader) ([]grad, error) {
	status, err := r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("reading the mean from rank 0: %w", err)
	}
	if status == 0 {
		gs, err := readGrads(r)
		if err != nil {
			return nil, fmt.Errorf("reading the mean from rank 0: %w", err)
		}
		return gs, nil
	}
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, min(binary.LittleEndian.Uint32(b[:]), 1<<16))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("rank 0 failed the all-reduce: %s", msg)
}

// Barrier returns once every rank has called it (rank 0 writes checkpoints
// while the others wait at one).
func (g *Group) Barrier() error {
	if g.w.Size == 1 {
		return nil
	}
	if g.w.Rank == 0 {
		for k, p := range g.peers {
			if _, err := p.ReadByte(); err != nil {
				return fmt.Errorf("dist: barrier: rank %d: %w", k+1, err)
			}
		}
		for k, p := range g.peers {
			p.WriteByte('B')
			if err := p.Flush(); err != nil {
				return fmt.Errorf("dist: barrier: rank %d: %w", k+1, err)
			}
		}
		return nil
	}
	p := g.peers[0]
	p.WriteByte('B')
	if err := p.Flush(); err != nil {
		return fmt.Errorf("dist: barrier: rank %d: %w", g.w.Rank, err)
	}
	if _, err := p.ReadByte(); err != nil {
		return fmt.Errorf("dist: barrier: rank %d waiting for rank 0: %w", g.w.Rank, err)
	}
	return nil
}
