package dist

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// World is this process's place in a multi-process (multi-node) job, read
// from the launcher's environment: torchrun's (MASTER_ADDR, MASTER_PORT,
// WORLD_SIZE, RANK, LOCAL_RANK) or Slurm's srun (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, the first host of SLURM_JOB_NODELIST as the master).
type World struct {
	Rank, Size, LocalRank int
	MasterAddr            string
	MasterPort            int
	From                  string // "torchrun" or "slurm"
}

// DefaultMasterPort is torchrun's default, used when MASTER_PORT is unset under Slurm.
const DefaultMasterPort = 29500

// WorldFromEnv reads the launcher's variables. ok is false when neither
// torchrun's WORLD_SIZE nor Slurm's SLURM_NTASKS is set (a single process).
func WorldFromEnv(getenv func(string) string) (w World, ok bool, err error) {
	num := func(key string) (int, error) {
		v, err := strconv.Atoi(getenv(key))
		if err != nil {
			return 0, fmt.Errorf("%s=%q: not an integer", key, getenv(key))
		}
		return v, nil
	}
	port := func() (int, error) {
		if getenv("MASTER_PORT") == "" {
			return DefaultMasterPort, nil
		}
		p, err := num("MASTER_PORT")
		if err == nil && (p < 1 || p > 65535) {
			err = fmt.Errorf("MASTER_PORT=%d: not a TCP port", p)
		}
		return p, err
	}
	switch {
	case getenv("WORLD_SIZE") != "":
		w.From = "torchrun"
		if w.Size, err = num("WORLD_SIZE"); err != nil {
			return w, true, err
		}
		if w.Rank, err = num("RANK"); err != nil {
			return w, true, err
		}
		if getenv("LOCAL_RANK") != "" {
			if w.LocalRank, err = num("LOCAL_RANK"); err != nil {
				return w, true, err
			}
		}
		if w.MasterAddr = getenv("MASTER_ADDR"); w.MasterAddr == "" {
			return w, true, errors.New("WORLD_SIZE is set but MASTER_ADDR is not")
		}
	case getenv("SLURM_NTASKS") != "":
		w.From = "slurm"
		if w.Size, err = num("SLURM_NTASKS"); err != nil {
			return w, true, err
		}
		if w.Rank, err = num("SLURM_PROCID"); err != nil {
			return w, true, err
		}
		if getenv("SLURM_LOCALID") != "" {
			if w.LocalRank, err = num("SLURM_LOCALID"); err != nil {
				return w, true, err
			}
		}
		w.MasterAddr = getenv("MASTER_ADDR")
		if w.MasterAddr == "" {
			list := getenv("SLURM_JOB_NODELIST")
			if list == "" {
				list = getenv("SLURM_NODELIST")
			}
			hosts, err := ExpandNodeList(list)
			if err != nil {
				return w, true, fmt.Errorf("SLURM_JOB_NODELIST=%q: %w", list, err)
			}
			w.MasterAddr = hosts[0]
		}
	default:
		return World{Size: 1}, false, nil
	}
	if w.MasterPort, err = port(); err != nil {
		return w, true, err
	}
	if w.Size < 1 || w.Rank < 0 || w.Rank >= w.Size || w.LocalRank < 0 {
		return w, true, fmt.Errorf("%s: rank %d, world size %d, local rank %d: want 0 <= rank < world size", w.From, w.Rank, w.Size, w.LocalRank)
	}
	return w, true, nil
}

// ExpandNodeList expands Slurm's compressed host list, e.g.
// "node[01-04,07],login1" into node01..node04, node07, login1 (zero padding
// kept; several bracket groups in one name multiply out).
func ExpandNodeList(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '[':
				depth++
				continue
			case ']':
				depth--
				if depth < 0 {
					return nil, fmt.Errorf("unbalanced ']' at byte %d", i)
				}
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if depth != 0 {
			return nil, errors.New("unbalanced '['")
		}
		if part := s[start:i]; part != "" {
			hosts, err := expandHost(part)
			if err != nil {
				return nil, err
			}
			out = append(out, hosts...)
		}
		start = i + 1
	}
	if len(out) == 0 {
		return nil, errors.New("no hosts")
	}
	return out, nil
}

// expandHost expands the first bracket group of one host expression and recurses on the rest.
func expandHost(h string) ([]string, error) {
	open := strings.IndexByte(h, '[')
	if open < 0 {
		return []string{h}, nil
	}
	end := strings.IndexByte(h[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("%q: unbalanced '['", h)
	}
	prefix, body, rest := h[:open], h[open+1:open+end], h[open+end+1:]
	tails, err := expandHost(rest)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range strings.Split(body, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b || a < 0 {
			return nil, fmt.Errorf("%q: bad range %q", h, r)
		}
		for n := a; n <= b; n++ {
			num := fmt.Sprintf("%0*d", len(lo), n)
			for _, t := range tails {
				out = append(out, prefix+num+t)
			}
		}
	}
	return out, nil
}

// rendezvousHello opens every message, so that something else listening
// on the port is told apart from rank 0.
const rendezvousHello = "fsodgpu-rendezvous-v1"

// Rendezvous agrees on a communicator id across the world: rank 0 makes it
// with newID (ncclGetUniqueId under the cuda build), listens on MasterPort,
// and, once every other rank has connected and said its rank and world
// size, sends it to all of them; the others dial MasterAddr:MasterPort until
// rank 0 answers. Every rank returns the same id, or an error naming what
// was missing when timeout passes (a rank that never came, a master that
// never listened) or what disagreed (world sizes, a duplicate rank).
func Rendezvous(w World, newID func() ([]byte, error), timeout time.Duration) ([]byte, error) {
	if w.Size == 1 {
		return newID()
	}
	deadline := time.Now().Add(timeout)
	if w.Rank == 0 {
		return serveRendezvous(w, newID, deadline, timeout)
	}
	return joinRendezvous(w, deadline, timeout)
}

func serveRendezvous(w World, newID func() ([]byte, error), deadline time.Time, timeout time.Duration) ([]byte, error) {
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("rendezvous: rank 0 making the communicator id: %w", err)
	}
	peers, err := acceptRanks(w, rendezvousHello, "rendezvous", deadline, timeout)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range peers[1:] {
			p.conn.Close()
		}
	}()
	// Everyone is here: the id goes out only now, so a rank that returns
	// knows the whole world has joined (a barrier before NCCL's own init).
	msg := "OK " + hex.EncodeToString(id) + "\n"
	for r := 1; r < w.Size; r++ {
		if _, err := peers[r].conn.Write([]byte(msg)); err != nil {
			return nil, fmt.Errorf("rendezvous: sending the id to rank %d: %w", r, err)
		}
	}
	return id, nil
}

func joinRendezvous(w World, deadline time.Time, timeout time.Duration) ([]byte, error) {
	p, line, err := dialRank0(w, rendezvousHello, "rendezvous", deadline, timeout)
	if err != nil {
		return nil, err
	}
	p.conn.Close()
	hexID, ok := strings.CutPrefix(line, "OK ")
	id, err := hex.DecodeString(hexID)
	if !ok || err != nil {
		return nil, fmt.Errorf("rendezvous: rank %d: unexpected answer %q from rank 0 at %s:%d", w.Rank, line, w.MasterAddr, w.MasterPort)
	}
	return id, nil
}
