package train

// LearningRate is detectron2's WarmupMultiStepLR: a linear warm-up from
// base·factor to base over warmupIters, then base·gamma^k after the k-th step.
func LearningRate(st *StageConfig, iter int) float32 {
	lr := st.LR
	for _, s := range st.Steps {
		if iter >= s {
			lr *= st.Gamma
		}
	}
	if iter < st.WarmupIters {
		alpha := float32(iter) / float32(st.WarmupIters)
		lr *= st.WarmupFactor*(1-alpha) + alpha
	}
	return lr
}
