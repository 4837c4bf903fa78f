package workloads

import (
	"fmt"
	"strings"
)

// Preset is a named workload shape: prompt and output lengths and, for RAG,
// shared prefixes. Arrivals are chosen separately.
type Preset struct {
	Name           string
	Prompt, Output Length
	Prefix         Prefix
	// Source says where the numbers come from and which are assumptions.
	Source string
}

// Presets returns the built-in presets with their default parameters, in a
// fixed order.
func Presets() []Preset {
	return []Preset{chatPreset(), summarizationPreset(), reasoningPreset(), ragPreset(ragDefault)}
}

// ParsePreset reads a preset spec: chat, summarization, reasoning, or
// rag[:groups=16,prefix=2048,zipf=1.1] (K prefix groups of P shared tokens,
// optional Zipf popularity).
func ParsePreset(text string) (Preset, error) {
	name, rest, hasParams := strings.Cut(strings.TrimSpace(text), ":")
	var p Preset
	switch name {
	case "chat":
		p = chatPreset()
	case "summarization":
		p = summarizationPreset()
	case "reasoning":
		p = reasoningPreset()
	case "rag":
		return parseRAG(text, rest)
	default:
		return Preset{}, fmt.Errorf("preset %q: unknown preset (want %s)", text, presetList())
	}
	if hasParams {
		return Preset{}, fmt.Errorf("preset %q: %s takes no parameters", text, name)
	}
	return p, nil
}

func parseRAG(text, rest string) (Preset, error) {
	q := parseParams(rest, "groups", "prefix", "zipf")
	prefix := ragDefault
	if _, ok := q.values["groups"]; ok {
		prefix.Groups = q.int("groups", true)
	}
	if _, ok := q.values["prefix"]; ok {
		prefix.Tokens = q.int("prefix", true)
	}
	prefix.Zipf = q.float("zipf", false)
	err := q.err
	if err == nil {
		err = checkTokens("prefix", prefix.Tokens)
	}
	if err == nil {
		err = prefix.Validate()
	}
	if err != nil {
		return Preset{}, fmt.Errorf("preset %q: %w", text, err)
	}
	return ragPreset(prefix), nil
}

func presetList() string { return "chat, summarization, reasoning or rag" }

// chatPreset: ShareGPT conversations.
func chatPreset() Preset {
	return Preset{
		Name: "chat",
		// Means 161 prompt and 338 output tokens: ShareGPT as measured by
		// Kwon et al., "Efficient Memory Management for Large Language Model
		// Serving with PagedAttention" (vLLM), SOSP 2023, §6.1 and Fig. 11
		// (161.31 and 337.99). The paper gives no spread: std is an
		// assumption (CV 1.5 for prompts, 1.0 for outputs) matching the long
		// right tails of its histograms; the 2048-token clamp is an
		// assumption (a 4k-context model).
		Prompt: LogNormalOf(161, 242, 2048),
		Output: LogNormalOf(338, 338, 2048),
		Source: "ShareGPT means from vLLM (Kwon et al., SOSP 2023, Fig. 11); spread and clamp assumed",
	}
}

// summarizationPreset: arXiv papers summarized into abstracts.
func summarizationPreset() Preset {
	return Preset{
		Name: "summarization",
		// arXiv articles average 4,938 words and their abstracts 220 words:
		// Cohan et al., "A Discourse-Aware Attention Model for Abstractive
		// Summarization of Long Documents", NAACL 2018, Table 1. At 4/3
		// tokens per word (OpenAI's rule of thumb "1 token ≈ ¾ word";
		// tokenizer-dependent) that is 6,584 and 293 tokens. CV 0.5 and the
		// clamps (a 16k-context model) are assumptions.
		Prompt: LogNormalOf(6584, 3292, 15360),
		Output: LogNormalOf(293, 147, 1024),
		Source: "arXiv summarization (Cohan et al., NAACL 2018, Table 1) at 4/3 tokens/word; spread and clamps assumed",
	}
}

// reasoningPreset: a short problem, a long chain of thought.
func reasoningPreset() Preset {
	return Preset{
		Name: "reasoning",
		// Assumptions, not measurements: competition-style problems of ~200
		// tokens; chains of thought of ~4,000 tokens with a wide spread
		// (CV 0.75), clamped at 32,768, the maximum generation length of the
		// DeepSeek-R1 evaluations (DeepSeek-AI, "DeepSeek-R1: Incentivizing
		// Reasoning Capability in LLMs via Reinforcement Learning", 2025).
		// Replace with a measured histogram (csv:) for a specific model.
		Prompt: LogNormalOf(200, 100, 2048),
		Output: LogNormalOf(4000, 3000, 32768),
		Source: "assumed: ~200-token problems, ~4k-token chains of thought, 32k cap as in DeepSeek-R1's evaluation",
	}
}

// ragDefault: 16 document sets of 2048 tokens, e.g. four retrieved chunks of
// 512 tokens (an assumption; 512 tokens is a common chunk size).
var ragDefault = Prefix{Groups: 16, Tokens: 2048}

// ragPreset: a long retrieved context shared by every query that hits the
// same documents, then a short question.
func ragPreset(prefix Prefix) Preset {
	return Preset{
		Name:   "rag",
		Prefix: prefix,
		// Assumptions: a one-sentence question of 16–128 tokens after the
		// shared context, and an answer of ~256 tokens.
		Prompt: Uniform{Min: 16, Max: 128},
		Output: LogNormalOf(256, 128, 1024),
		Source: "assumed: K shared contexts of P tokens (default 16 × 2048), 16–128-token questions, ~256-token answers",
	}
}
