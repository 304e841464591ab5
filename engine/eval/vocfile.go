package eval

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// VOCClasses are the 20 PASCAL VOC classes in the devkit's order.
var VOCClasses = []string{
	"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
	"diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
}

// VOCDevkit is a test set read from a VOC tree: the image ids of
// ImageSets/Main/<set>.txt and their annotations, restricted to Classes.
type VOCDevkit struct {
	Dir      string
	Set      string
	Classes  []string
	ImageIDs []string
	Data     *VOCData
	imageIdx map[string]int
	classIdx map[string]int
	// discover is set when no class list was given: every class named in an
	// annotation or by a result file joins Classes (kept sorted).
	discover bool
}

type vocXML struct {
	Objects []struct {
		Name      string `xml:"name"`
		Difficult string `xml:"difficult"`
		BndBox    *struct {
			XMin string `xml:"xmin"`
			YMin string `xml:"ymin"`
			XMax string `xml:"xmax"`
			YMax string `xml:"ymax"`
		} `xml:"bndbox"`
	} `xml:"object"`
}

// ReadVOCDevkit reads dir/ImageSets/Main/<set>.txt and dir/Annotations/<id>.xml
// for every listed image. Objects of classes outside classes are skipped, as
// voc_eval does; a missing <difficult> means 0. With classes nil the class
// list is every class the annotations name, and ReadDetections adds every
// class that has a result file, in sorted order: a class with ground truth
// must count in the mean whether or not the detector produced a file for it.
func ReadVOCDevkit(dir, set string, classes []string) (*VOCDevkit, error) {
	listPath := filepath.Join(dir, "ImageSets", "Main", set+".txt")
	list, err := os.ReadFile(listPath)
	if err != nil {
		return nil, err
	}
	k := &VOCDevkit{Dir: dir, Set: set, imageIdx: map[string]int{}, classIdx: map[string]int{}, discover: classes == nil}
	for i, line := range strings.Split(string(list), "\n") {
		id := strings.TrimSpace(line)
		if id == "" {
			continue
		}
		if strings.ContainsAny(id, "/\\") || strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == 0x7f || r == utf8.RuneError }) {
			return nil, fmt.Errorf("%s: line %d: %q is not a valid image id (a file name without directory or control characters)", listPath, i+1, id)
		}
		if _, dup := k.imageIdx[id]; dup {
			return nil, fmt.Errorf("%s: line %d: image %s listed twice", listPath, i+1, id)
		}
		k.imageIdx[id] = len(k.ImageIDs)
		k.ImageIDs = append(k.ImageIDs, id)
	}
	k.Data = newVOCData(0, len(k.ImageIDs))
	for _, name := range classes {
		if _, dup := k.classIdx[name]; dup {
			return nil, fmt.Errorf("class %q listed twice", name)
		}
		k.classIdx[name] = len(k.Classes)
		k.Classes = append(k.Classes, name)
		k.Data.insertClass(len(k.Data.objects))
	}
	for img, id := range k.ImageIDs {
		if err := k.readAnnotation(img, id); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// class returns the index of a class name; in discover mode an unknown name
// is added in sorted position (shifting the indices after it).
func (k *VOCDevkit) class(name string) (int, bool) {
	if c, ok := k.classIdx[name]; ok || !k.discover {
		return c, ok
	}
	pos, _ := slices.BinarySearch(k.Classes, name)
	k.Classes = slices.Insert(k.Classes, pos, name)
	k.Data.insertClass(pos)
	for i, n := range k.Classes[pos:] {
		k.classIdx[n] = pos + i
	}
	return pos, true
}

func (k *VOCDevkit) readAnnotation(img int, id string) error {
	path := filepath.Join(k.Dir, "Annotations", id+".xml")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: missing (image %s is listed in ImageSets/Main/%s.txt)", path, id, k.Set)
		}
		return err
	}
	var a vocXML
	if err := xml.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("%s: malformed XML: %v", path, err)
	}
	for i, o := range a.Objects {
		where := fmt.Sprintf("%s: object %d", path, i+1)
		name := strings.TrimSpace(o.Name)
		if name == "" {
			return fmt.Errorf("%s: missing <name>", where)
		}
		c, ok := k.class(name)
		if !ok {
			continue
		}
		if o.BndBox == nil {
			return fmt.Errorf("%s (%s): missing <bndbox>", where, name)
		}
		var b Box
		for j, s := range [4]string{o.BndBox.XMin, o.BndBox.YMin, o.BndBox.XMax, o.BndBox.YMax} {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s (%s): bndbox %s %q is not a number", where, name, vocCorner[j], s)
			}
			b[j] = v
		}
		if err := checkVOCBox(b, 0); err != nil {
			return fmt.Errorf("%s (%s): bndbox %v", where, name, err)
		}
		difficult := false
		if s := strings.TrimSpace(o.Difficult); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("%s (%s): <difficult> %q is not an integer", where, name, s)
			}
			difficult = v != 0
		}
		k.Data.addObject(img, c, b, difficult)
	}
	return nil
}

var vocCorner = [4]string{"xmin", "ymin", "xmax", "ymax"}

// checkVOCBox rejects a box whose corners are reversed by more than slack
// pixels. Annotations allow none. Result files allow one: detectron2 writes
// a predicted box as (x1+1, y1+1, x2, y2), so a box narrower than a pixel
// legitimately has xmin > xmax there, and voc_eval scores it as it is.
func checkVOCBox(b Box, slack float64) error {
	if b[0] > b[2]+slack {
		return fmt.Errorf("xmin %g > xmax %g", b[0], b[2])
	}
	if b[1] > b[3]+slack {
		return fmt.Errorf("ymin %g > ymax %g", b[1], b[3])
	}
	return nil
}

// VOCResultFile is the devkit's name for a class's detections.
func VOCResultFile(set, class string) string { return "comp4_det_" + set + "_" + class + ".txt" }

// ReadDetections reads detsDir/comp4_det_<set>_<class>.txt for every class
// that has one ("image_id score xmin ymin xmax ymax" per line, 1-based
// pixels). A missing file leaves the class without detections and
// HasDetections false; the class still counts (AP 0 when it has ground
// truth). Without a class list every result file's class joins the list.
func (k *VOCDevkit) ReadDetections(detsDir string) error {
	st, err := os.Stat(detsDir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: not a directory", detsDir)
	}
	if k.discover {
		ents, err := os.ReadDir(detsDir)
		if err != nil {
			return err
		}
		prefix, suffix := "comp4_det_"+k.Set+"_", ".txt"
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() || !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, suffix) || len(n) == len(prefix)+len(suffix) {
				continue
			}
			k.class(n[len(prefix) : len(n)-len(suffix)])
		}
	}
	for c, class := range k.Classes {
		path := filepath.Join(detsDir, VOCResultFile(k.Set, class))
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = k.readDetectionFile(f, path, c)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (k *VOCDevkit) readDetectionFile(f *os.File, path string, class int) error {
	k.Data.hasDets[class] = true
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		where := fmt.Sprintf("%s: line %d", path, line)
		if len(fields) != 6 {
			return fmt.Errorf("%s: %d fields, want 6 (image_id score xmin ymin xmax ymax)", where, len(fields))
		}
		img, ok := k.imageIdx[fields[0]]
		if !ok {
			return fmt.Errorf("%s: image %s is not in ImageSets/Main/%s.txt", where, fields[0], k.Set)
		}
		var v [5]float64
		for j := range v {
			x, err := strconv.ParseFloat(fields[j+1], 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s: field %d %q is not a number", where, j+2, fields[j+1])
			}
			v[j] = x
		}
		b := Box{v[1], v[2], v[3], v[4]}
		if err := checkVOCBox(b, 1); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		k.Data.addDetection(img, class, b, v[0])
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}
