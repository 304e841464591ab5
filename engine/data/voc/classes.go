// Package voc reads PASCAL VOC trees (VOC2007/, VOC2012/ or any directory in
// the same layout: Annotations/*.xml, ImageSets/Main/*.txt, JPEGImages/) and
// the few-shot split files TFA and DeFRCN use (vocsplit/).
package voc

import "fmt"

// Classes are the 20 PASCAL VOC classes in the devkit's order.
var Classes = []string{
	"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
	"diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
}

// splitNovel lists the novel classes of the three few-shot splits (TFA,
// DeFRCN: builtin_meta's PASCAL_VOC_NOVEL_CATEGORIES).
var splitNovel = map[int][]string{
	1: {"bird", "bus", "cow", "motorbike", "sofa"},
	2: {"aeroplane", "bottle", "cow", "horse", "sofa"},
	3: {"boat", "cat", "motorbike", "sheep", "sofa"},
}

// Split returns the base and novel classes of few-shot split 1, 2 or 3 and
// the class order used when training on both: base classes in devkit order,
// then the novel ones (TFA's PASCAL_VOC_ALL_CATEGORIES), so a base model's
// classifier rows keep their indices after surgery.
func Split(n int) (base, novel, all []string, err error) {
	novel, ok := splitNovel[n]
	if !ok {
		return nil, nil, nil, fmt.Errorf("voc: no few-shot split %d (splits are 1, 2, 3)", n)
	}
	isNovel := map[string]bool{}
	for _, c := range novel {
		isNovel[c] = true
	}
	for _, c := range Classes {
		if !isNovel[c] {
			base = append(base, c)
		}
	}
	novel = append([]string(nil), novel...)
	all = append(append([]string(nil), base...), novel...)
	return base, novel, all, nil
}
