package data

import (
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
)

// TestLoaderCache: batches from a cached loader are identical to an
// uncached one's, epoch after epoch (the cache holds pre-augmentation
// pixels, so each epoch still augments afresh), and the second epoch
// decodes nothing.
func TestLoaderCache(t *testing.T) {
	rows := makeRows(t, t.TempDir(), 23, 8, 8)
	base := LoaderOptions{
		BatchSize: 4, Shuffle: true, Seed: 5, Workers: 3,
		Image:   ImageOptions{Width: 8, Height: 8, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}},
		Augment: fullAugment(),
	}
	plain, err := NewLoader(rows, base)
	if err != nil {
		t.Fatal(err)
	}
	cachedOpts := base
	cachedOpts.CacheBytes = 1 << 20
	cached, err := NewLoader(rows, cachedOpts)
	if err != nil {
		t.Fatal(err)
	}
	for epoch := range 3 {
		want, got := collect(t, plain, epoch), collect(t, cached, epoch)
		if len(got) != len(want) {
			t.Fatalf("epoch %d: %d batches, want %d", epoch, len(got), len(want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i].Rows, want[i].Rows) || !slices.Equal(got[i].Images.Data(), want[i].Images.Data()) {
				t.Fatalf("epoch %d batch %d: cached batch differs", epoch, i)
			}
		}
		st := cached.CacheStats()
		if st.Entries != 23 || st.Misses != 23 || st.Hits != int64(23*epoch) {
			t.Errorf("epoch %d: stats %+v, want 23 entries, 23 misses, %d hits", epoch, st, 23*epoch)
		}
		// 8x8x3 values stored as bytes plus the bookkeeping.
		if st.Bytes != 23*(192+cacheEntryOverhead) {
			t.Errorf("epoch %d: cache holds %d bytes", epoch, st.Bytes)
		}
	}
	if plain.CacheStats() != (CacheStats{}) {
		t.Error("a loader without a cache reports cache stats")
	}
	// Cached images do not go back to the file (documented).
	os.Remove(rows[0].File)
	if b := collect(t, cached, 0); len(b) == 0 {
		t.Error("no batches")
	}
	if _, err := NewLoader(rows, LoaderOptions{BatchSize: 1, Image: base.Image, CacheBytes: -1}); err == nil {
		t.Error("negative CacheBytes accepted")
	}
}

// TestLoaderCacheSmall: a cap that holds a few images evicts and still
// gives identical batches.
func TestLoaderCacheSmall(t *testing.T) {
	rows := makeRows(t, t.TempDir(), 17, 8, 8)
	o := LoaderOptions{BatchSize: 5, Shuffle: true, Seed: 1, Workers: 2, Image: ImageOptions{Width: 8, Height: 8}, Augment: fullAugment()}
	plain, _ := NewLoader(rows, o)
	o.CacheBytes = 3 * (192 + cacheEntryOverhead)
	cached, _ := NewLoader(rows, o)
	for epoch := range 2 {
		want, got := collect(t, plain, epoch), collect(t, cached, epoch)
		for i := range got {
			if !slices.Equal(got[i].Images.Data(), want[i].Images.Data()) {
				t.Fatalf("epoch %d batch %d differs", epoch, i)
			}
		}
	}
	if st := cached.CacheStats(); st.Entries != 3 || st.Bytes > o.CacheBytes {
		t.Errorf("stats %+v with a cap of %d", st, o.CacheBytes)
	}
}

func TestImageCache(t *testing.T) {
	img := func(v float32) []float32 { return []float32{v, v, v, v} }
	entry := int64(4 + cacheEntryOverhead)
	c := newImageCache(2 * entry)
	dst := make([]float32, 4)
	c.put(1, img(1.0/255))
	c.put(2, img(2.0/255))
	if !c.get(1, dst) || !slices.Equal(dst, img(1.0/255)) {
		t.Fatalf("get 1: %v", dst)
	}
	c.put(3, img(3.0/255)) // evicts 2, the least recently used
	if c.get(2, dst) {
		t.Error("2 should have been evicted")
	}
	if !c.get(1, dst) || !c.get(3, dst) || !slices.Equal(dst, img(3.0/255)) {
		t.Error("1 or 3 missing")
	}
	if st := c.stats(); st.Entries != 2 || st.Bytes != 2*entry || st.Hits != 3 || st.Misses != 1 {
		t.Errorf("stats %+v", st)
	}
	// Values that are not k/255 (or outside [0, 1]) are stored as float32,
	// exactly.
	odd := []float32{0.1, -0.5, 1.5, 0.123456}
	c = newImageCache(1 << 10)
	c.put(7, odd)
	if !c.get(7, dst) || !slices.Equal(dst, odd) {
		t.Errorf("float32 entry: %v, want %v", dst, odd)
	}
	// Every byte value round-trips.
	all := make([]float32, 256)
	for k := range all {
		all[k] = float32(k) / 255
	}
	c.put(8, all)
	got := make([]float32, 256)
	if !c.get(8, got) || !slices.Equal(got, all) {
		t.Error("8-bit entry does not round-trip")
	}
	if st := c.stats(); st.Bytes != 16+256+2*cacheEntryOverhead {
		t.Errorf("bytes %d: want the odd image as float32 and the 8-bit one as bytes", st.Bytes)
	}
	// An image over the cap is not stored.
	c = newImageCache(10)
	c.put(1, img(0))
	if c.get(1, dst) {
		t.Error("oversize image stored")
	}
}

// TestImageCacheConcurrent hammers one small cache from several goroutines;
// every hit must give back exactly its key's image.
func TestImageCacheConcurrent(t *testing.T) {
	const n = 64
	c := newImageCache(8 * (n + cacheEntryOverhead))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]float32, n)
			src := make([]float32, n)
			for i := range 2000 {
				key := (i*7 + g) % 20
				if c.get(key, dst) {
					for _, v := range dst {
						if v != float32(key)/255 {
							t.Errorf("key %d: got %v", key, v)
							return
						}
					}
					continue
				}
				for j := range src {
					src[j] = float32(key) / 255
				}
				c.put(key, src)
			}
		}()
	}
	wg.Wait()
	if st := c.stats(); st.Entries > 8 || st.Bytes > 8*(n+cacheEntryOverhead) {
		t.Errorf("over the cap: %+v", st)
	}
}
