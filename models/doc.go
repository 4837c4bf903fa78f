// Package models describes decoder-only LLM architectures and turns one
// forward step over a batch into a list of ops with their shapes, FLOPs and
// memory traffic.
//
// An architecture (Arch) comes from a built-in TOML file (Builtins, Load by
// name), a user TOML file in the same schema, or a Hugging Face config.json
// (FromHF). Loading validates every key once and names file, line and key on
// error; a loaded Model has its defaults filled in and is trusted from then
// on.
//
// Model.Params, ActiveParams, WeightBytes and KVBytesPerToken give the sizes
// capacity planning needs; Model.Graph and the allocation-free GraphInto give
// the per-step op list that roofline prices and the simulator replays. A step
// is a set of sequences, each with Cached tokens in the KV cache and New
// tokens processed now, so one Graph covers prefill, decode, chunked prefill
// and batches that mix them. docs/MODELS.md lists the formulas and the
// assumptions behind them.
package models
