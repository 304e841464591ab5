// Package data holds the detection datasets, the few-shot splits and the
// input pipeline that feeds the trainer.
//
// A dataset is a class-name list and a slice of records, one per image:
//
//	type Record struct {
//		ID            string       // VOC file id ("000123", "2008_000002"); COCO image id in decimal
//		File          string       // image path (JPEG or PNG)
//		Width, Height int          // from the annotation; checked against the decoded image
//		Boxes         [][4]float32 // x1,y1,x2,y2, 0-based pixel coordinates (detectron2's XYXY_ABS)
//		Classes       []int        // indices into Dataset.Classes
//		Difficult     []bool       // VOC "difficult" flag (nil for COCO)
//		Crowd         []bool       // COCO "iscrowd" flag (nil for VOC)
//	}
//
// Builders live in sub-packages and all return *Dataset:
//
//	voc.Load(root, []string{"VOC2007/trainval", "VOC2012/trainval"}, opts)
//	voc.LoadShots(root, splitDir, classes, shots, seed, opts)   // TFA vocsplit files
//	coco.Load(annFile, imageDir, opts)
//	coco.LoadShots(splitDir, imageDir, classes, shots, seed, opts) // TFA cocosplit files
//	synth.Ensure(cacheDir, synth.Params{...})                  // writes/reuses the synthetic set, returns its root
//
// Class lists: voc.Classes, voc.Split(1|2|3) (base, novel, base+novel),
// coco.Split() (60 base, 20 novel, 80 all), synth.Classes (15 base then 5
// novel). The class order of a dataset is the order of the list it was
// loaded with, so a base model's class indices survive into base+novel.
//
// A K-shot dataset follows TFA exactly: one record per kept instance, each
// holding that single box, so an image with two kept instances appears
// twice, and its other objects are unlabelled in that record.
//
// splits.WriteVOC and splits.WriteCOCO sample new K-shot split files in the
// TFA/DeFRCN format (the `fsodgpu split` command).
//
// The trainer reads batches from a Loader:
//
//	l, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: 2, ShortSides: []int{480, 512, 800},
//		MaxSize: 1333, Flip: true, PixelMean: [3]float32{103.53, 116.28, 123.675},
//		PixelStd: [3]float32{1, 1, 1}, Seed: 7, StartIter: it})
//	defer l.Close()
//	for {
//		b, err := l.Next() // b.Images is [B,3,b.H,b.W]: the largest item, padded to Input.SizeDivisibility
//		// b.Items[k]: Record, ID, OrigW/OrigH, W/H (resized, unpadded),
//		// ScaleX/ScaleY (resized/original), Flipped, Boxes (resized
//		// coordinates, crowd and empty boxes dropped), Classes (int64).
//		// l.DataTime() is how long Next waited for the batch.
//	}
//
// Training batches are a pure function of (dataset, config, iteration): which
// records (an endless stream of seeded per-epoch permutations, detectron2's
// TrainingSampler), which short side and which flip (seeded by the stream
// position). A run killed at iteration k and restarted with StartIter=k sees
// exactly the batches an uninterrupted run would have seen, whatever the
// number of workers. NewTestLoader walks every record once, in order, with a
// single short side and no flip, and ends with io.EOF.
//
// Images are read as detectron2 reads them (LoaderConfig.Input, zero value):
// JPEGs decoded to PIL's pixels (libjpeg's islow IDCT for baseline and
// progressive files,
// fancy chroma upsampling and fixed-point colour conversion), EXIF orientation
// applied, resized with PIL's 8-bit BILINEAR arithmetic, and padded only to
// the largest image of the batch. InputConfig{JPEG: "go", Resize: "float",
// SizeDivisibility: 32} is the pipeline of earlier runs.
//
// Pixel values are 0..255; PixelMean and PixelStd are given in the output
// channel order (BGR unless RGB is set) in 0..255 units. detectron2's MSRA
// weights use BGR, mean {103.53,116.28,123.675}, std {1,1,1}; torchvision's
// use RGB, mean {123.675,116.28,103.53}, std {58.395,57.12,57.375}, which is
// the same as normalising 0..1 values with {0.485,0.456,0.406}/{0.229,0.224,0.225}.
//
// Errors on user input (annotations, split files, images) name the file and
// the problem. With LoadOptions.SkipBad the loaders report the problem
// through Warn and drop the image instead.
package data
