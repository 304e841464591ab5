package splits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/fsodgpu/fsodgpu/engine/data/coco"
)

// cocoRaw keeps every entry verbatim so the split files carry the source's
// image and annotation dicts whole, as TFA's prepare_coco_few_shot.py does.
type cocoRaw struct {
	Info        json.RawMessage   `json:"info"`
	Licenses    json.RawMessage   `json:"licenses"`
	Images      []json.RawMessage `json:"images"`
	Annotations []json.RawMessage `json:"annotations"`
	Categories  []json.RawMessage `json:"categories"`
}

// COCOOptions configure WriteCOCO.
type COCOOptions struct {
	AnnFile string // the instances file to sample from (TFA: trainvalno5k.json)
	Shots   []int
	Seeds   []int
	Out     string // the cocosplit directory
	// Overwrite replaces existing files with other content (see VOCOptions).
	Overwrite bool
}

// WriteCOCO writes full_box_{K}shot_{class}_trainval.json for every category
// of AnnFile, shot and seed (seed 0 in Out, seed S in Out/seedS). Each file
// holds the source's info, licenses and categories, the chosen images and
// all non-crowd annotations of the class in them (crowd ones are never
// sampled, as in TFA). It returns the number of files written.
func WriteCOCO(o COCOOptions) (int, error) {
	if err := checkShots(o.Shots, o.Seeds); err != nil {
		return 0, err
	}
	src, err := os.ReadFile(o.AnnFile)
	if err != nil {
		return 0, err
	}
	var raw cocoRaw
	if err := json.Unmarshal(src, &raw); err != nil {
		return 0, fmt.Errorf("%s: malformed JSON: %v", o.AnnFile, err)
	}
	cats := make([]coco.Category, len(raw.Categories))
	catIdx := map[int64]int{}
	for i, r := range raw.Categories {
		if err := json.Unmarshal(r, &cats[i]); err != nil {
			return 0, fmt.Errorf("%s: category %d: %v", o.AnnFile, i+1, err)
		}
		catIdx[cats[i].ID] = i
	}
	imgIdx := map[int64]int{}
	for i, r := range raw.Images {
		var im coco.Image
		if err := json.Unmarshal(r, &im); err != nil {
			return 0, fmt.Errorf("%s: image %d: %v", o.AnnFile, i+1, err)
		}
		imgIdx[im.ID] = i
	}
	// Per category: images in order of first annotation, and their annotations.
	type group struct {
		image int64
		anns  []int
	}
	byCat := make([][]*group, len(cats))
	find := make([]map[int64]*group, len(cats))
	for i := range find {
		find[i] = map[int64]*group{}
	}
	for i, r := range raw.Annotations {
		var a coco.Annotation
		if err := json.Unmarshal(r, &a); err != nil {
			return 0, fmt.Errorf("%s: annotation %d: %v", o.AnnFile, i+1, err)
		}
		c, ok := catIdx[a.CategoryID]
		if !ok {
			return 0, fmt.Errorf("%s: annotation %d (id %d): unknown category_id %d", o.AnnFile, i+1, a.ID, a.CategoryID)
		}
		if _, ok := imgIdx[a.ImageID]; !ok {
			return 0, fmt.Errorf("%s: annotation %d (id %d): image_id %d is not in \"images\"", o.AnnFile, i+1, a.ID, a.ImageID)
		}
		if a.IsCrowd == 1 {
			continue
		}
		g := find[c][a.ImageID]
		if g == nil {
			g = &group{image: a.ImageID}
			find[c][a.ImageID] = g
			byCat[c] = append(byCat[c], g)
		}
		g.anns = append(g.anns, i)
	}
	order := make([]int, len(cats))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return cats[order[i]].ID < cats[order[j]].ID })
	written := 0
	for _, c := range order {
		cls := cats[c].Name
		counts := make([]int, len(byCat[c]))
		for i, g := range byCat[c] {
			counts[i] = len(g.anns)
		}
		if len(counts) == 0 {
			return written, fmt.Errorf("%s: no annotation of %s", o.AnnFile, cls)
		}
		for _, seed := range o.Seeds {
			for _, k := range o.Shots {
				var images, anns []json.RawMessage
				for _, i := range sample(counts, cls, k, seed) {
					g := byCat[c][i]
					images = append(images, raw.Images[imgIdx[g.image]])
					for _, a := range g.anns {
						anns = append(anns, raw.Annotations[a])
					}
				}
				out, err := encodeSplit(raw, images, anns)
				if err != nil {
					return written, fmt.Errorf("%s: %v", o.AnnFile, err)
				}
				if err := writeFile(coco.ShotFile(o.Out, cls, k, seed), out, o.Overwrite); err != nil {
					return written, err
				}
				written++
			}
		}
	}
	return written, nil
}

// encodeSplit writes the file with a fixed key order, so a seed always gives
// the same bytes.
func encodeSplit(raw cocoRaw, images, anns []json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	field := func(name string, v json.RawMessage) error {
		if b.Len() > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: ", name)
		return json.Compact(&b, v)
	}
	list := func(items []json.RawMessage) json.RawMessage {
		if len(items) == 0 {
			return json.RawMessage("[]")
		}
		return json.RawMessage("[" + string(bytes.Join(asBytes(items), []byte(", "))) + "]")
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"info", raw.Info}, {"licenses", raw.Licenses}, {"images", list(images)},
		{"annotations", list(anns)}, {"categories", list(raw.Categories)}} {
		if f.v == nil {
			continue
		}
		if err := field(f.name, f.v); err != nil {
			return nil, err
		}
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

func asBytes(items []json.RawMessage) [][]byte {
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}
