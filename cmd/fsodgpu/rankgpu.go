package main

import "fmt"

// rankGPU is the GPU a launched process trains on when --gpus is not given:
// torchrun and srun start one process per GPU and say which with LOCAL_RANK
// (SLURM_LOCALID). Where the launcher already narrowed the process to one
// GPU (srun --gpus-per-task, or CUDA_VISIBLE_DEVICES set per rank) that GPU
// is index 0 whatever the local rank.
func rankGPU(localRank, visible int) (int, error) {
	switch {
	case visible == 1:
		return 0, nil
	case visible == 0:
		return 0, fmt.Errorf("local rank %d: no GPU is visible to this process", localRank)
	case localRank < visible:
		return localRank, nil
	}
	return 0, fmt.Errorf("local rank %d but only %d GPUs are visible to this process (one process per GPU: launch at most %d per node, or give --gpus)", localRank, visible, visible)
}
