package voc

import (
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Object is one annotated object, its box in the file's 1-based inclusive
// pixel coordinates.
type Object struct {
	Name                   string
	Difficult, Truncated   bool
	XMin, YMin, XMax, YMax float64
}

// Annotation is the content of one Annotations/*.xml file.
type Annotation struct {
	Folder, Filename string
	Width, Height    int
	Objects          []Object
}

type xmlBox struct {
	XMin string `xml:"xmin"`
	YMin string `xml:"ymin"`
	XMax string `xml:"xmax"`
	YMax string `xml:"ymax"`
}

type xmlObject struct {
	Name      string  `xml:"name"`
	Pose      string  `xml:"pose"`
	Truncated string  `xml:"truncated"`
	Difficult string  `xml:"difficult"`
	Box       *xmlBox `xml:"bndbox"`
}

type xmlSize struct {
	Width  string `xml:"width"`
	Height string `xml:"height"`
	Depth  string `xml:"depth"`
}

type xmlAnnotation struct {
	XMLName  xml.Name    `xml:"annotation"`
	Folder   string      `xml:"folder"`
	Filename string      `xml:"filename"`
	Size     *xmlSize    `xml:"size"`
	Objects  []xmlObject `xml:"object"`
}

// ReadAnnotation parses a VOC annotation file. Errors name the file and, for
// an object, its 1-based position.
func ReadAnnotation(path string) (*Annotation, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var x xmlAnnotation
	if err := xml.Unmarshal(raw, &x); err != nil {
		return nil, fmt.Errorf("%s: malformed XML: %v", path, err)
	}
	a := &Annotation{Folder: strings.TrimSpace(x.Folder), Filename: strings.TrimSpace(x.Filename)}
	if x.Size == nil {
		return nil, fmt.Errorf("%s: no <size>", path)
	}
	if a.Width, err = positiveInt(x.Size.Width); err != nil {
		return nil, fmt.Errorf("%s: size width: %v", path, err)
	}
	if a.Height, err = positiveInt(x.Size.Height); err != nil {
		return nil, fmt.Errorf("%s: size height: %v", path, err)
	}
	for i, o := range x.Objects {
		name := strings.TrimSpace(o.Name)
		where := fmt.Sprintf("%s: object %d (%s)", path, i+1, name)
		if name == "" {
			return nil, fmt.Errorf("%s: object %d: no <name>", path, i+1)
		}
		if o.Box == nil {
			return nil, fmt.Errorf("%s: no <bndbox>", where)
		}
		obj := Object{Name: name, Difficult: flag(o.Difficult), Truncated: flag(o.Truncated)}
		for _, f := range []struct {
			tag string
			s   string
			v   *float64
		}{{"xmin", o.Box.XMin, &obj.XMin}, {"ymin", o.Box.YMin, &obj.YMin}, {"xmax", o.Box.XMax, &obj.XMax}, {"ymax", o.Box.YMax, &obj.YMax}} {
			v, err := strconv.ParseFloat(strings.TrimSpace(f.s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: bndbox %s %q is not a number", where, f.tag, f.s)
			}
			*f.v = v
		}
		if obj.XMax < obj.XMin {
			return nil, fmt.Errorf("%s: bndbox xmin %g > xmax %g", where, obj.XMin, obj.XMax)
		}
		if obj.YMax < obj.YMin {
			return nil, fmt.Errorf("%s: bndbox ymin %g > ymax %g", where, obj.YMin, obj.YMax)
		}
		a.Objects = append(a.Objects, obj)
	}
	return a, nil
}

func positiveInt(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return v, nil
}

// flag reads a 0/1 field; VOC2012 omits <difficult> on some objects, which
// means 0.
func flag(s string) bool { return strings.TrimSpace(s) == "1" }

// Box converts the object's 1-based box to the 0-based x1,y1,x2,y2 that
// detectron2's VOC loader produces: it subtracts 1 from xmin and ymin only,
// so a box covering pixel columns xmin..xmax inclusive becomes the continuous
// interval [xmin-1, xmax), whose width xmax-xmin+1 is the pixel count.
func (o *Object) Box() [4]float32 {
	return [4]float32{float32(o.XMin - 1), float32(o.YMin - 1), float32(o.XMax), float32(o.YMax)}
}

// Marshal renders the annotation in the devkit's XML layout.
func (a *Annotation) Marshal() []byte {
	var b strings.Builder
	b.WriteString("<annotation>\n")
	fmt.Fprintf(&b, "\t<folder>%s</folder>\n\t<filename>%s</filename>\n", escape(a.Folder), escape(a.Filename))
	fmt.Fprintf(&b, "\t<size>\n\t\t<width>%d</width>\n\t\t<height>%d</height>\n\t\t<depth>3</depth>\n\t</size>\n", a.Width, a.Height)
	b.WriteString("\t<segmented>0</segmented>\n")
	for _, o := range a.Objects {
		fmt.Fprintf(&b, "\t<object>\n\t\t<name>%s</name>\n\t\t<pose>Unspecified</pose>\n", escape(o.Name))
		fmt.Fprintf(&b, "\t\t<truncated>%d</truncated>\n\t\t<difficult>%d</difficult>\n", b2i(o.Truncated), b2i(o.Difficult))
		fmt.Fprintf(&b, "\t\t<bndbox>\n\t\t\t<xmin>%s</xmin>\n\t\t\t<ymin>%s</ymin>\n\t\t\t<xmax>%s</xmax>\n\t\t\t<ymax>%s</ymax>\n\t\t</bndbox>\n",
			num(o.XMin), num(o.YMin), num(o.XMax), num(o.YMax))
		b.WriteString("\t</object>\n")
	}
	b.WriteString("</annotation>\n")
	return []byte(b.String())
}

func escape(s string) string {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		panic(err) // strings.Builder never fails
	}
	return b.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}
