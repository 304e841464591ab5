// Package coco reads COCO instances JSON files and the few-shot split files
// TFA and DeFRCN use (cocosplit/).
package coco

// Category is a COCO category: ids are not contiguous (1..90 for 80 classes).
type Category struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Categories are the 80 COCO detection categories in id order.
var Categories = []Category{
	{1, "person"}, {2, "bicycle"}, {3, "car"}, {4, "motorcycle"}, {5, "airplane"}, {6, "bus"},
	{7, "train"}, {8, "truck"}, {9, "boat"}, {10, "traffic light"}, {11, "fire hydrant"},
	{13, "stop sign"}, {14, "parking meter"}, {15, "bench"}, {16, "bird"}, {17, "cat"}, {18, "dog"},
	{19, "horse"}, {20, "sheep"}, {21, "cow"}, {22, "elephant"}, {23, "bear"}, {24, "zebra"},
	{25, "giraffe"}, {27, "backpack"}, {28, "umbrella"}, {31, "handbag"}, {32, "tie"},
	{33, "suitcase"}, {34, "frisbee"}, {35, "skis"}, {36, "snowboard"}, {37, "sports ball"},
	{38, "kite"}, {39, "baseball bat"}, {40, "baseball glove"}, {41, "skateboard"}, {42, "surfboard"},
	{43, "tennis racket"}, {44, "bottle"}, {46, "wine glass"}, {47, "cup"}, {48, "fork"},
	{49, "knife"}, {50, "spoon"}, {51, "bowl"}, {52, "banana"}, {53, "apple"}, {54, "sandwich"},
	{55, "orange"}, {56, "broccoli"}, {57, "carrot"}, {58, "hot dog"}, {59, "pizza"}, {60, "donut"},
	{61, "cake"}, {62, "chair"}, {63, "couch"}, {64, "potted plant"}, {65, "bed"},
	{67, "dining table"}, {70, "toilet"}, {72, "tv"}, {73, "laptop"}, {74, "mouse"}, {75, "remote"},
	{76, "keyboard"}, {77, "cell phone"}, {78, "microwave"}, {79, "oven"}, {80, "toaster"},
	{81, "sink"}, {82, "refrigerator"}, {84, "book"}, {85, "clock"}, {86, "vase"}, {87, "scissors"},
	{88, "teddy bear"}, {89, "hair drier"}, {90, "toothbrush"},
}

// novelIDs are the 20 categories that are also PASCAL VOC classes: the novel
// set of the COCO few-shot benchmark (TFA, DeFRCN: COCO_NOVEL_CATEGORIES).
var novelIDs = map[int64]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 9: true,
	16: true, 17: true, 18: true, 19: true, 20: true, 21: true, 44: true, 62: true, 63: true,
	64: true, 67: true, 72: true}

// Split returns the 60 base and 20 novel class names (each in id order) and
// all 80 in id order, the class order TFA and DeFRCN use for COCO.
func Split() (base, novel, all []string) {
	for _, c := range Categories {
		if novelIDs[c.ID] {
			novel = append(novel, c.Name)
		} else {
			base = append(base, c.Name)
		}
		all = append(all, c.Name)
	}
	return base, novel, all
}
