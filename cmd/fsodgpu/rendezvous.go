package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fsodgpu/fsodgpu/engine/dist"
)

func init() {
	register(&cli.Command{
		Name:  "rendezvous",
		Usage: "check a multi-node launch: every rank joins rank 0 and receives its NCCL unique id",
		UsageText: "torchrun --nnodes 2 --nproc-per-node 4 --rdzv-endpoint HOST:29500 ... (or srun) fsodgpu rendezvous\n" +
			"   srun --nodes 2 --ntasks-per-node 4 bin/fsodgpu rendezvous",
		Description: "Reads rank, world size, local rank and the master from torchrun's environment (MASTER_ADDR,\n" +
			"MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK) or Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the\n" +
			"first host of SLURM_JOB_NODELIST; MASTER_PORT or 29500). Rank 0 makes the id (ncclGetUniqueId in the\n" +
			"CUDA build with NCCL; random bytes otherwise) and sends it over TCP once every rank has joined; each\n" +
			"rank prints one line with the id's SHA-256, which must agree.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for the other ranks", Value: 5 * time.Minute},
		},
		Action: rendezvousAction,
	})
}

// randomID stands in for an NCCL id where there is no NCCL: the rendezvous
// itself is the same.
func randomID() ([]byte, error) {
	id := make([]byte, 128)
	_, err := rand.Read(id)
	return id, err
}

func rendezvousAction(c *cli.Context) error {
	w, ok, err := dist.WorldFromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("rendezvous: %w", err)
	}
	if !ok {
		return fmt.Errorf("rendezvous: no launcher environment (torchrun's WORLD_SIZE/RANK/MASTER_ADDR or Slurm's SLURM_NTASKS/SLURM_PROCID)")
	}
	newID, kind := commIDSource()
	id, err := dist.Rendezvous(w, newID, c.Duration("timeout"))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	fmt.Fprintf(c.App.Writer, "rank %d of %d (local rank %d, %s) on %s: master %s:%d, %s id sha256 %x\n", w.Rank, w.Size,
		w.LocalRank, w.From, host, w.MasterAddr, w.MasterPort, kind, sha256.Sum256(id))
	return nil
}
