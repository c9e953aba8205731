package store

import (
	"testing"
	"unsafe"
)

func init() { poison = true } // see arena.go

func TestArena(t *testing.T) {
	var a arena
	defer a.free()
	p := a.alloc(10)
	q := a.alloc(arenaBlock - 10) // fills the first block
	if uintptr(q)-uintptr(p) != 10 {
		t.Errorf("second allocation at +%d, want +10 (the same block)", uintptr(q)-uintptr(p))
	}
	big := a.alloc(arenaBlock + 1) // its own block
	if len(a.blocks) != 2 || len(a.blocks[1]) != arenaBlock+1 {
		t.Fatalf("%d blocks, want the first and one of %d bytes", len(a.blocks), arenaBlock+1)
	}
	*(*byte)(big) = 1
	a.reset()
	if r := a.alloc(5); r != p {
		t.Errorf("after reset the first allocation is not at the start of the first block")
	}
	if *(*byte)(big) != 0 || *(*byte)(unsafe.Add(q, 100)) != 0 {
		t.Error("reset did not poison the memory it freed up")
	}
	if r := a.alloc(arenaBlock); r != big {
		t.Errorf("an allocation that does not fit the first block's rest did not take the next block")
	}
}
