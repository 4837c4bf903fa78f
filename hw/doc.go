// Package hw describes the hardware llmsim simulates: devices (GPUs, CPUs,
// NPUs, processing-in-memory, FPGAs, computational storage, flash and SSDs)
// and systems of device groups joined by links.
//
// A Device carries dense compute peaks per dtype, memory tiers, on-chip
// buffers, efficiency curves (the achieved fraction of a peak by problem
// size), fixed per-kernel and per-step overheads, power and price, plus the
// section its kind needs: [pim] geometry, [fpga] resources, [csd] internals
// or [flash] media. A System is device groups ([[device]] with a count),
// the links between them and the names of its host and accelerator groups.
//
// Descriptions are TOML. The built-in ones live in configs/hw, one file per
// name, each number with its source in a comment; Builtins lists them and
// BuiltinSource returns their text. Load accepts a built-in name or a file
// path, and a file describing a single device loads as a system of one
// group. Everything is validated once, at load: an error names the file,
// the line and the key, as in
//
//	h100.toml:12: memory[0].bytes_per_second: must be a positive finite number, got -3
//
// and the rest of llmsim trusts what loads. docs/HARDWARE.md is the schema
// reference.
//
// Units: rates per second, sizes in bytes, times in seconds, power in watts,
// prices in US dollars.
package hw
