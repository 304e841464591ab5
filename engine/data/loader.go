package data

import (
	"errors"
	"fmt"
	"io"
	"log"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// LoaderConfig configures a Loader. Zero values take the defaults noted.
type LoaderConfig struct {
	BatchSize  int   // images per batch on this rank (required)
	ShortSides []int // training: one is drawn per image; test: exactly one
	MaxSize    int   // cap on the long side; 0: none
	Flip       bool  // random horizontal flip with probability 1/2 (training only)
	// PixelMean and PixelStd are in the output channel order and 0..255
	// units: out = (pixel - mean) / std. A zero std means 1.
	PixelMean, PixelStd [3]float32
	RGB                 bool // channel order R,G,B; default B,G,R (detectron2)
	// Input is how images are decoded, resized and padded (the plan's
	// input: section); the zero value is detectron2's.
	Input     InputConfig
	Seed      int64 // sampling and augmentation seed
	StartIter int   // first batch index: resuming at k gives batch k of a fresh run
	// Rank and WorldSize shard a global batch of BatchSize*WorldSize images
	// for data-parallel training: rank r gets slots [r*B, (r+1)*B). Default 0 of 1.
	Rank, WorldSize int
	Workers         int         // decoding goroutines; default GOMAXPROCS
	Prefetch        int         // batches prepared ahead; default 2
	SkipBad         bool        // an image that fails to load is reported and replaced by the next record
	Warn            func(error) // receives SkipBad's reports, from worker goroutines; nil logs them
}

// Item describes one image of a Batch.
type Item struct {
	Record         int    // index into Dataset.Records
	ID             string // the record's ID
	OrigW, OrigH   int    // original size
	W, H           int    // size after resizing, before padding
	ScaleX, ScaleY float32
	Flipped        bool
	Boxes          [][4]float32 // ground truth in the resized (and flipped) image
	Classes        []int64
}

// Batch is one step's input.
type Batch struct {
	Iter    int
	Images  []float32 // [len(Items), 3, H, W], zero beyond each item's W x H
	H, W    int       // padded size: the largest item's, rounded up to Input.SizeDivisibility
	Items   []Item
	Skipped []error // images replaced under SkipBad
}

// Loader prepares batches on background goroutines. Next returns them in
// iteration order; Close stops the goroutines.
type Loader struct {
	ds   *Dataset
	cfg  LoaderConfig
	pool []int // record indices the sampler draws from
	test bool

	out      chan loaded
	quit     chan struct{}
	wg       sync.WaitGroup
	dataTime time.Duration
	err      error
	once     sync.Once
}

type loaded struct {
	b   *Batch
	err error
}

// slot is the plan for one image of a batch.
type slot struct {
	pos   int // index into l.pool of the first record to try
	short int
	flip  bool
}

type pending struct {
	iter    int
	slots   []slot
	items   []Item
	images  []*Image
	skipped [][]error
	errs    []error
	left    atomic.Int32
	done    chan struct{}
}

type job struct {
	p *pending
	k int
}

func (c *LoaderConfig) setDefaults() error {
	if c.BatchSize <= 0 {
		return fmt.Errorf("data loader: batch size %d must be positive", c.BatchSize)
	}
	if len(c.ShortSides) == 0 {
		return errors.New("data loader: no short side given")
	}
	for _, s := range c.ShortSides {
		if s <= 0 {
			return fmt.Errorf("data loader: short side %d must be positive", s)
		}
	}
	if c.MaxSize < 0 {
		return fmt.Errorf("data loader: max size %d is negative", c.MaxSize)
	}
	if c.StartIter < 0 {
		return fmt.Errorf("data loader: start iteration %d is negative", c.StartIter)
	}
	for i, s := range c.PixelStd {
		if s == 0 {
			c.PixelStd[i] = 1
		}
	}
	if err := c.Input.Validate(); err != nil {
		return fmt.Errorf("data loader: %v", err)
	}
	if c.WorldSize <= 0 {
		c.WorldSize = 1
	}
	if c.Rank < 0 || c.Rank >= c.WorldSize {
		return fmt.Errorf("data loader: rank %d outside world size %d", c.Rank, c.WorldSize)
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Prefetch <= 0 {
		c.Prefetch = 2
	}
	return nil
}

// NewLoader starts a training loader over the records of ds that have at
// least one non-crowd box (detectron2 drops empty images from training).
func NewLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var pool []int
	for i, r := range ds.Records {
		for j := range r.Boxes {
			if !isCrowd(&r, j) {
				pool = append(pool, i)
				break
			}
		}
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("data loader: dataset %q has no image with a box to train on", ds.Name)
	}
	return start(ds, cfg, pool, false), nil
}

// NewTestLoader starts a loader that visits every record of ds once, in
// order, resized with the single short side in cfg.ShortSides and never
// flipped; Next returns io.EOF after the last batch. StartIter skips the
// first batches.
func NewTestLoader(ds *Dataset, cfg LoaderConfig) (*Loader, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if len(cfg.ShortSides) != 1 {
		return nil, fmt.Errorf("data loader: a test loader takes one short side, got %v", cfg.ShortSides)
	}
	if cfg.Flip {
		return nil, errors.New("data loader: a test loader does not flip")
	}
	pool := make([]int, len(ds.Records))
	for i := range pool {
		pool[i] = i
	}
	return start(ds, cfg, pool, true), nil
}

func isCrowd(r *Record, j int) bool { return r.Crowd != nil && r.Crowd[j] }

func start(ds *Dataset, cfg LoaderConfig, pool []int, test bool) *Loader {
	l := &Loader{ds: ds, cfg: cfg, pool: pool, test: test,
		out: make(chan loaded, cfg.Prefetch), quit: make(chan struct{})}
	order := make(chan *pending, cfg.Prefetch)
	jobs := make(chan job, cfg.BatchSize*cfg.Workers)
	l.wg.Add(2 + cfg.Workers)
	go l.produce(order, jobs)
	for w := 0; w < cfg.Workers; w++ {
		go l.work(jobs)
	}
	go l.assemble(order)
	return l
}

// plan returns the slots of batch iter, or nil past the end of a test pass.
// Training slots come from the endless sample stream: stream position q
// belongs to epoch q/N and holds record perm_epoch[q%N]; the augmentation of
// position q is drawn from a generator keyed by q alone.
func (l *Loader) plan(iter int, perms map[int][]int) []slot {
	b, n := l.cfg.BatchSize, len(l.pool)
	if l.test {
		first := iter * b
		if first >= n {
			return nil
		}
		s := make([]slot, min(b, n-first))
		for k := range s {
			s[k] = slot{pos: first + k, short: l.cfg.ShortSides[0]}
		}
		return s
	}
	s := make([]slot, b)
	for k := range s {
		q := (iter*l.cfg.WorldSize+l.cfg.Rank)*b + k
		epoch := q / n
		perm, ok := perms[epoch]
		if !ok {
			clear(perms) // batches only move forward: one epoch's permutation (two at a boundary) is enough
			perm = NewRand(uint64(l.cfg.Seed), 1, uint64(epoch)).Perm(n)
			perms[epoch] = perm
		}
		aug := NewRand(uint64(l.cfg.Seed), 2, uint64(q))
		s[k] = slot{
			pos:   perm[q%n],
			short: l.cfg.ShortSides[aug.Intn(len(l.cfg.ShortSides))],
			flip:  l.cfg.Flip && aug.Uint64()&1 == 1,
		}
	}
	return s
}

func (l *Loader) produce(order chan<- *pending, jobs chan<- job) {
	defer l.wg.Done()
	defer close(jobs)
	defer close(order)
	perms := map[int][]int{}
	for iter := l.cfg.StartIter; ; iter++ {
		s := l.plan(iter, perms)
		if s == nil {
			return
		}
		p := &pending{iter: iter, slots: s, items: make([]Item, len(s)), images: make([]*Image, len(s)),
			skipped: make([][]error, len(s)), errs: make([]error, len(s)), done: make(chan struct{})}
		p.left.Store(int32(len(s)))
		select {
		case order <- p:
		case <-l.quit:
			return
		}
		for k := range s {
			select {
			case jobs <- job{p, k}:
			case <-l.quit:
				return
			}
		}
	}
}

func (l *Loader) work(jobs <-chan job) {
	defer l.wg.Done()
	for j := range jobs {
		p, k := j.p, j.k
		s := p.slots[k]
		// Under SkipBad a failing record is replaced by the next one in the
		// pool; failures are a property of the files, so the replacement is
		// as deterministic as the plan.
		for try := 0; try < len(l.pool); try++ {
			ri := l.pool[(s.pos+try)%len(l.pool)]
			item, im, err := l.loadOne(ri, s)
			if err == nil {
				p.items[k], p.images[k] = item, im
				break
			}
			if !l.cfg.SkipBad || l.test {
				p.errs[k] = err
				break
			}
			p.skipped[k] = append(p.skipped[k], err)
			if l.cfg.Warn != nil {
				l.cfg.Warn(err)
			} else {
				log.Printf("skipping: %v", err)
			}
		}
		if p.images[k] == nil && p.errs[k] == nil {
			p.errs[k] = fmt.Errorf("data loader: no image of dataset %q could be read", l.ds.Name)
		}
		if p.left.Add(-1) == 0 {
			close(p.done)
		}
	}
}

// loadOne decodes record ri and applies the slot's resize and flip.
func (l *Loader) loadOne(ri int, s slot) (Item, *Image, error) {
	r := &l.ds.Records[ri]
	im, err := l.cfg.Input.DecodeFile(r.File)
	if err != nil {
		return Item{}, nil, err
	}
	if im.W != r.Width || im.H != r.Height {
		return Item{}, nil, fmt.Errorf("%s: image is %dx%d but the annotation says %dx%d", r.File, im.W, im.H, r.Width, r.Height)
	}
	nw, nh := ResizeShape(r.Width, r.Height, s.short, l.cfg.MaxSize)
	im = l.cfg.Input.ResizeImage(im, nw, nh)
	if s.flip {
		im.FlipH()
	}
	it := Item{Record: ri, ID: r.ID, OrigW: r.Width, OrigH: r.Height, W: nw, H: nh,
		ScaleX: float32(nw) / float32(r.Width), ScaleY: float32(nh) / float32(r.Height), Flipped: s.flip}
	for j, b := range r.Boxes {
		if isCrowd(r, j) {
			continue
		}
		t := TransformBox(b, it.ScaleX, it.ScaleY, nw, s.flip)
		t[0], t[2] = min(max(t[0], 0), float32(nw)), min(max(t[2], 0), float32(nw))
		t[1], t[3] = min(max(t[1], 0), float32(nh)), min(max(t[3], 0), float32(nh))
		// detectron2 drops boxes left empty after the transform.
		if t[2]-t[0] <= 1e-5 || t[3]-t[1] <= 1e-5 {
			continue
		}
		it.Boxes = append(it.Boxes, t)
		it.Classes = append(it.Classes, int64(r.Classes[j]))
	}
	return it, im, nil
}

func (l *Loader) assemble(order <-chan *pending) {
	defer l.wg.Done()
	defer close(l.out)
	for p := range order {
		select {
		case <-p.done:
		case <-l.quit:
			return
		}
		b, err := l.batch(p)
		select {
		case l.out <- loaded{b, err}:
		case <-l.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// batch normalises the images and pads them into one [B,3,H,W] array.
func (l *Loader) batch(p *pending) (*Batch, error) {
	for _, err := range p.errs {
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", p.iter, err)
		}
	}
	b := &Batch{Iter: p.iter, Items: p.items}
	b.Images, b.H, b.W = Pack(p.images, l.cfg.RGB, l.cfg.Input.SizeDivisibility)
	for k, im := range p.images {
		for c := 0; c < 3; c++ {
			mean, inv := l.cfg.PixelMean[c], 1/l.cfg.PixelStd[c]
			if mean == 0 && inv == 1 {
				continue
			}
			dst := b.Images[(k*3+c)*b.H*b.W:]
			for y := 0; y < im.H; y++ {
				drow := dst[y*b.W : y*b.W+im.W]
				for x, v := range drow {
					drow[x] = (v - mean) * inv
				}
			}
		}
		b.Skipped = append(b.Skipped, p.skipped[k]...)
	}
	return b, nil
}

// Next returns the next batch. A test loader returns io.EOF after its last
// batch; a failed image ends the loader with an error naming the file.
func (l *Loader) Next() (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	t0 := time.Now()
	r, ok := <-l.out
	l.dataTime = time.Since(t0)
	switch {
	case !ok:
		l.err = io.EOF
		select {
		case <-l.quit:
			l.err = errors.New("data loader: Next after Close")
		default:
		}
	case r.err != nil:
		l.err = r.err
	default:
		return r.b, nil
	}
	return nil, l.err
}

// DataTime is how long the last Next waited for its batch: near zero when
// the workers keep ahead of the trainer.
func (l *Loader) DataTime() time.Duration { return l.dataTime }

// Close stops the background goroutines; it is safe to call more than once.
func (l *Loader) Close() {
	l.once.Do(func() {
		close(l.quit)
		l.wg.Wait()
	})
}
