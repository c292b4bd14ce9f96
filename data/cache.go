package data

import (
	"container/list"
	"sync"
)

// cacheEntryOverhead approximates the bookkeeping bytes of one cache entry
// (list element, map slot, slice headers), counted against the cap.
const cacheEntryOverhead = 128

// imageCache is a byte-capped least-recently-used cache of decoded images
// (before augmentation and normalisation), keyed by row index. It is safe
// for concurrent use.
//
// Decoded values are k/255 for an 8-bit k (every decoder path goes through
// 8-bit RGBA), so an image is stored as one byte per value, a quarter of
// its float32 size; an image whose values do not all round-trip exactly
// through a byte is stored as float32. Either way a hit gives back exactly
// the values that were put.
type imageCache struct {
	mu      sync.Mutex
	limit   int64
	used    int64
	lru     *list.List // of *cacheEntry, most recently used first
	entries map[int]*list.Element
	hits    int64
	misses  int64
}

type cacheEntry struct {
	key int
	u8  []uint8
	f32 []float32
}

func (e *cacheEntry) size() int64 {
	return int64(len(e.u8)) + 4*int64(len(e.f32)) + cacheEntryOverhead
}

func newImageCache(limit int64) *imageCache {
	return &imageCache{limit: limit, lru: list.New(), entries: map[int]*list.Element{}}
}

// get copies the image for key into dst and reports whether it was there.
func (c *imageCache) get(key int, dst []float32) bool {
	c.mu.Lock()
	el, ok := c.entries[key]
	if !ok {
		c.misses++
		c.mu.Unlock()
		return false
	}
	c.hits++
	c.lru.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	c.mu.Unlock()
	// Entries are immutable once stored, so the copy needs no lock.
	if e.f32 != nil {
		copy(dst, e.f32)
		return true
	}
	for i, b := range e.u8 {
		dst[i] = float32(b) / 255
	}
	return true
}

// put stores a copy of src under key, evicting the least recently used
// entries to stay within the cap. An image larger than the cap is not
// stored.
func (c *imageCache) put(key int, src []float32) {
	e := &cacheEntry{key: key, u8: make([]uint8, len(src))}
	for i, v := range src {
		b := uint8(v*255 + 0.5)
		if !(v >= 0 && v <= 1) || float32(b)/255 != v {
			e.u8, e.f32 = nil, append([]float32(nil), src...)
			break
		}
		e.u8[i] = b
	}
	size := e.size()
	if size > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return // another worker (a concurrent epoch) stored it first
	}
	for c.used+size > c.limit {
		last := c.lru.Back()
		old := last.Value.(*cacheEntry)
		c.lru.Remove(last)
		delete(c.entries, old.key)
		c.used -= old.size()
	}
	c.entries[key] = c.lru.PushFront(e)
	c.used += size
}

// CacheStats describes a Loader's image cache.
type CacheStats struct {
	// Entries and Bytes are what it holds now (Bytes includes bookkeeping
	// overhead, and is at most the cap).
	Entries int
	Bytes   int64
	// Hits and Misses count lookups since the Loader was made.
	Hits, Misses int64
}

func (c *imageCache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: len(c.entries), Bytes: c.used, Hits: c.hits, Misses: c.misses}
}
