// Package kv sizes and allocates a replica's KV cache: how many blocks fit
// in device memory after weights, activations and the runtime reserve, and
// a block allocator that counts them. A block is BlockTokens tokens of
// attention K/V, or one sequence's recurrent state for a model without
// attention layers.
//
// The allocator counts blocks rather than naming them: a request's own
// blocks are interchangeable, so a count is exact and costs O(1) per
// allocation. Only chunks that several requests may share (a prefix group's
// or a conversation's common tokens, under prefix caching or Hydragen) get
// identities, reference counts and an LRU cache (shared.go). Paged
// allocation (vLLM's PagedAttention) and contiguous max-length reservation
// (the Orca / FasterTransformer style) differ only in how many blocks a
// request asks for and when; the replica decides that.
package kv
