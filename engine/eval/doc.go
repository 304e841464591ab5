// Package eval scores detections the way the community's reference tools do,
// in pure Go, so the numbers fsodgpu prints can be put next to published ones:
//
//   - COCO bbox evaluation equal to pycocotools' COCOeval (IoU .50:.05:.95,
//     101 recall points, maxDets 1/10/100, area ranges, crowd regions): the 12
//     summary numbers and per-class AP/AP50/AP75.
//   - PASCAL VOC evaluation equal to the classic voc_eval of py-faster-rcnn and
//     detectron2 (difficult objects ignored, +1 pixel convention, greedy
//     matching), with the VOC07 11-point or the all-point (area) AP at any IoU.
//   - Readers for the files those tools consume (COCO instances and results
//     JSON, VOC Annotations/ImageSets trees and comp4 devkit result files),
//     the results.json a fine-tune job writes, and the published-number tables
//     under configs/reported used by `fsodgpu regress`.
//
// # In-memory API (what the trainer calls)
//
// Classes are indices 0..K-1. Boxes are x1,y1,x2,y2 in input-image pixels with
// the backend's convention (0-based, continuous, no +1 in widths):
//
//	ev := eval.NewEvaluator(numClasses)
//	for each test image {
//		ev.Add(objects, detections) // []eval.Object, []eval.Detection
//	}
//	coco := ev.COCO()                       // *COCOResult: Stats, PerClass
//	voc := ev.VOC(eval.VOC07)               // *VOCResult at IoU .50:.05:.95
//	all := coco.Summary(nil)                // AP, AP50, AP75 over every class
//	novel := voc.Summary(novelClassIndices) // over a subset
//	base := voc.Summary(baseClassIndices)
//	metrics := eval.MetricsPercent(all, base, novel) // results.json "metrics"
//
// ev.VOCData().AP(class, iou, metric) gives voc_eval's AP at any other
// threshold. Images are ranked in the order added, which only matters for
// detections with equal scores (pycocotools breaks such ties by image id and
// then file order, so add images in increasing id order to match it).
//
// Objects carry Difficult and Crowd flags and the COCO Area. COCO treats Crowd
// objects as pycocotools treats iscrowd=1 (matched by IoA, never missed), and
// Difficult ones the same way, as VOC-to-COCO conversions (mmdetection's)
// write them; it uses Area for the area ranges (0 means "use the box area").
// VOC ignores objects that are Difficult or Crowd, as the devkit conversions
// mark crowd regions difficult. For VOC the boxes are shifted to the devkit's 1-based
// inclusive pixels (x1+1, y1+1, x2, y2), as detectron2's Pascal VOC evaluator
// writes them, so the +1 formulas see the same boxes they see in detectron2.
//
// # Files and commands
//
// ReadCOCOGroundTruth, ReadCOCOResults and COCOGroundTruth.Evaluate back
// `fsodgpu eval coco`; ReadVOCDevkit, VOCDevkit.ReadDetections and
// NewVOCReport back `fsodgpu eval voc`. JobResults (results.json), Reported
// (configs/reported/*.yaml) and Regress back `fsodgpu regress`.
//
// A class with no countable ground truth (no non-crowd object for COCO, no
// non-difficult one for VOC) has Valid false, AP values of -1 (pycocotools'
// convention), and is left out of every mean; a Summary over classes none of
// which is valid is -1 too.
package eval
