package main

import (
	"fmt"
	"strconv"
	"strings"
)

// shardFromFlags resolves which shard this process is: --shard I/N first;
// else a Slurm job array (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, of
// SLURM_ARRAY_TASK_COUNT); else a Kubernetes Indexed Job
// (JOB_COMPLETION_INDEX, of --shards, which the Job's completions must
// equal). No shard at all is (0, 1): the whole plan.
func shardFromFlags(flag string, shards int, getenv func(string) string) (int, int, string, error) {
	if flag != "" {
		i, n, ok := strings.Cut(flag, "/")
		if !ok {
			return 0, 0, "", fmt.Errorf("--shard %q: want I/N, e.g. 0/3", flag)
		}
		si, err1 := strconv.Atoi(i)
		sn, err2 := strconv.Atoi(n)
		if err1 != nil || err2 != nil || sn < 1 || si < 0 || si >= sn {
			return 0, 0, "", fmt.Errorf("--shard %q: want I/N with 0 <= I < N", flag)
		}
		return si, sn, "--shard", nil
	}
	if id := getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		count := getenv("SLURM_ARRAY_TASK_COUNT")
		ti, err1 := strconv.Atoi(id)
		n, err2 := strconv.Atoi(count)
		lo := 0
		var err3 error
		if m := getenv("SLURM_ARRAY_TASK_MIN"); m != "" {
			lo, err3 = strconv.Atoi(m)
		}
		if err1 != nil || err2 != nil || err3 != nil || n < 1 || ti-lo < 0 || ti-lo >= n {
			return 0, 0, "", fmt.Errorf("SLURM_ARRAY_TASK_ID=%q SLURM_ARRAY_TASK_MIN=%q SLURM_ARRAY_TASK_COUNT=%q: want an array of consecutive indices (sbatch --array=0-N-1)",
				id, getenv("SLURM_ARRAY_TASK_MIN"), count)
		}
		return ti - lo, n, "SLURM_ARRAY_TASK_ID", nil
	}
	if id := getenv("JOB_COMPLETION_INDEX"); id != "" && shards > 0 {
		i, err := strconv.Atoi(id)
		if err != nil || i < 0 || i >= shards {
			return 0, 0, "", fmt.Errorf("JOB_COMPLETION_INDEX=%q: want 0 <= index < --shards %d", id, shards)
		}
		return i, shards, "JOB_COMPLETION_INDEX", nil
	}
	if shards > 1 {
		return 0, 0, "", fmt.Errorf("--shards %d without --shard I/N, a Slurm array or JOB_COMPLETION_INDEX: which shard is this?", shards)
	}
	return 0, 1, "", nil
}
