package dist

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The joining step shared by Rendezvous and Connect: rank 0 listens on
// MasterPort and accepts one hello line ("<hello> <rank> <size>\n") from
// every other rank; the others dial MasterAddr:MasterPort until rank 0
// answers. The hello word tells the two protocols (and strangers on the
// port) apart. What rank 0 answers once everyone is in is the caller's.

// joined is one accepted rank: its connection and the reader that consumed
// its hello (bytes after the hello are buffered there).
type joined struct {
	conn net.Conn
	rd   *bufio.Reader
}

// acceptRanks runs rank 0's side: it returns the other ranks' connections
// by rank (rank r at index r; index 0 nil), each with deadline still set, or
// an error naming the ranks that did not come within timeout, or the rank
// whose world size disagreed or that joined twice (that rank is told why on
// its connection). what names the protocol in errors.
func acceptRanks(w World, hello, what string, deadline time.Time, timeout time.Duration) ([]joined, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(w.MasterPort)))
	if err != nil {
		return nil, fmt.Errorf("%s: rank 0 cannot listen on port %d (MASTER_PORT): %w", what, w.MasterPort, err)
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(deadline)
	peers := make([]joined, w.Size)
	fail := func(err error) ([]joined, error) {
		for _, p := range peers {
			if p.conn != nil {
				p.conn.Close()
			}
		}
		return nil, err
	}
	for n := 0; n < w.Size-1; {
		c, err := ln.Accept()
		if err != nil {
			var missing, in []int
			for r := 1; r < w.Size; r++ {
				if peers[r].conn == nil {
					missing = append(missing, r)
				} else {
					in = append(in, r)
				}
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return fail(fmt.Errorf("%s: rank(s) %v of world size %d did not join rank 0 on port %d within %v (joined: %v); check that every rank was started with the same MASTER_ADDR/MASTER_PORT and can reach it",
					what, missing, w.Size, w.MasterPort, timeout, in))
			}
			return fail(fmt.Errorf("%s: rank 0 accepting on port %d: %w", what, w.MasterPort, err))
		}
		c.SetDeadline(deadline)
		rd := bufio.NewReaderSize(c, 1<<20)
		line, err := rd.ReadString('\n')
		var word string
		var rank, size int
		if err == nil {
			_, err = fmt.Sscanf(line, "%s %d %d", &word, &rank, &size)
		}
		switch {
		case err != nil || word != hello:
			c.Close() // not one of ours (a port scanner, a stale client, the other protocol): ignore it
			continue
		case size != w.Size:
			fmt.Fprintf(c, "ERR rank %d says world size %d but rank 0 has %d\n", rank, size, w.Size)
			c.Close()
			return fail(fmt.Errorf("%s: rank %d (from %s) has world size %d, rank 0 has %d", what, rank, c.RemoteAddr(), size, w.Size))
		case rank < 1 || rank >= w.Size || peers[rank].conn != nil:
			fmt.Fprintf(c, "ERR rank %d is out of range or already joined\n", rank)
			c.Close()
			return fail(fmt.Errorf("%s: rank %d from %s is out of range or joined twice (world size %d)", what, rank, c.RemoteAddr(), w.Size))
		}
		peers[rank] = joined{conn: c, rd: rd}
		n++
	}
	return peers, nil
}

// dialRank0 runs a joining rank's side: dial until rank 0 answers, send the
// hello, and read rank 0's first line (its "OK ..." once every rank is in).
// An "ERR ..." line becomes an error saying rank 0 refused this rank.
func dialRank0(w World, hello, what string, deadline time.Time, timeout time.Duration) (joined, string, error) {
	addr := net.JoinHostPort(w.MasterAddr, strconv.Itoa(w.MasterPort))
	var lastErr error
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return joined{}, "", fmt.Errorf("%s: rank %d could not reach rank 0 at %s (MASTER_ADDR:MASTER_PORT) within %v: %v", what, w.Rank, addr, timeout, lastErr)
		}
		c, err := net.DialTimeout("tcp", addr, min(left, 5*time.Second))
		if err != nil {
			lastErr = err
			time.Sleep(min(200*time.Millisecond, time.Until(deadline)))
			continue
		}
		c.SetDeadline(deadline)
		fmt.Fprintf(c, "%s %d %d\n", hello, w.Rank, w.Size)
		rd := bufio.NewReaderSize(c, 1<<20)
		line, err := rd.ReadString('\n')
		if err != nil {
			c.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return joined{}, "", fmt.Errorf("%s: rank %d reached rank 0 at %s, but not every rank of world size %d joined within %v", what, w.Rank, addr, w.Size, timeout)
			}
			return joined{}, "", fmt.Errorf("%s: rank %d reading from rank 0 at %s: %w", what, w.Rank, addr, err)
		}
		line = strings.TrimSpace(line)
		if msg, ok := strings.CutPrefix(line, "ERR "); ok {
			c.Close()
			return joined{}, "", fmt.Errorf("%s: rank 0 at %s refused rank %d: %s", what, addr, w.Rank, msg)
		}
		return joined{conn: c, rd: rd}, line, nil
	}
}
