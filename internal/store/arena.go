package store

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// arena is C memory that holds the out-of-line strings of the chunks one of tw_stream's cursors fills.
// The chunk's string_t values point into it, so DuckDB reads them where they are instead of copying
// them into a string heap it allocates for each vector of each chunk: that allocation, under ingest's
// memory limit, made DuckDB evict buffers to its temporary file (zstd): 3.5-4.0 s summed over both
// threads (timed around the call) of the 1M-event bench's ~24 s of CPU. Four alternating runs: 13.4-15.3 s
// before, 12.6-13.8 s after, faster in each pair; the store's contents are the same.
//
// The memory is reused for the cursor's next chunk. That is safe because DuckDB has finished with a chunk
// when it asks the same thread's source for the next one: the only statement that reads tw_stream is
// insertSQL, a projection that the insert consumes by copying every value into its row groups before the
// pipeline fetches again (it resets the chunk first, freeing the vectors' own heaps, so nothing
// downstream can rely on a chunk's strings outliving the fetch). Under go test, reset overwrites the
// memory it makes available (poison), so a string DuckDB read after that would come back as zero bytes
// in every ingest test; TestDirectVectorWrites reads back strings of every kind over several chunks.
type arena struct {
	blocks [][]byte // C memory
	cur    int      // the block being filled
	off    int      // its bytes used
}

const arenaBlock = 4 << 20 // about a chunk: 2,048 events of ~1.5 KB, of which ~1.2 KB out of line

// poison makes reset overwrite the memory it frees up (set by the package's tests).
var poison bool

// reset makes all the memory available again, for the next chunk.
func (a *arena) reset() {
	if poison {
		for _, b := range a.blocks {
			clear(b)
		}
	}
	a.cur, a.off = 0, 0
}

// alloc returns n > 0 contiguous bytes.
func (a *arena) alloc(n int) unsafe.Pointer {
	for ; a.cur < len(a.blocks); a.cur, a.off = a.cur+1, 0 {
		if b := a.blocks[a.cur]; a.off+n <= len(b) {
			a.off += n
			return unsafe.Pointer(&b[a.off-n])
		}
	}
	size := max(n, arenaBlock)
	p := C.malloc(C.size_t(size))
	if p == nil {
		panic("store: out of memory for a chunk's strings")
	}
	a.blocks = append(a.blocks, unsafe.Slice((*byte)(p), size))
	a.cur, a.off = len(a.blocks)-1, n
	return p
}

// free returns the memory to the system; the arena is empty and usable again.
func (a *arena) free() {
	for _, b := range a.blocks {
		C.free(unsafe.Pointer(&b[0]))
	}
	*a = arena{}
}
