package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/sweep"
)

const planHelp = `llmsim plan — the cheapest deployment that meets latency objectives: for
every hardware candidate × TP degree × batch limit × prefill/decode split, the
fewest replicas whose simulated TTFT and TPOT (at the chosen quantiles) meet
the SLOs, found with the event-driven simulator (llmsim simulate) by doubling
the replica count and bisecting back. Candidates are ranked by rental price
per hour; the best and the runner-ups are printed with their predictions.

  llmsim plan --model llama3-8b --rate 40 --prompt-tokens normal:mean=1024,std=256 \
      --output-tokens 256 --slo-ttft 0.5 --slo-tpot 0.05
  llmsim plan --model llama3-70b --hw dgx-h100,dgx-a100 --tp 2,4,8 --max-num-seqs 64,256 \
      --splits mixed,1:1,1:2 --workload chat --rate 20 --slo-ttft 1 --tpot-quantile p90 --slo-tpot 0.04

Search flags take comma lists. Every other flag is llmsim simulate's (model,
dtypes, workload, arrival, lengths, engine and scheduler, seed, ...): the
workload is simulated as simulate would, with --num-requests requests. A
deployment meets the SLOs when no request is rejected, all finish, and the
TTFT and TPOT quantiles are within the objectives.

Output (table, or -o json with the same fields): plan (the search), and
candidates, cheapest first, each with hw, tp, max_num_seqs (0: the engine's),
split (mixed or P:D), replicas (mixed) or pools (P:D replicas), gpus,
usd_per_hour (rent of every device), meets_slo, reason (why not),
ttft_quantile_seconds and tpot_quantile_seconds (at the SLO quantiles),
ttft_p99_seconds, tpot_p99_seconds, output_tokens_per_second,
usd_per_million_output_tokens, joules_per_output_token and sims (simulations
the search ran for it). A configuration that cannot meet the SLOs at any
scale (too slow per request, does not fit, TP larger than the system) says
why; when none can, plan fails and shows the closest.
`

func init() {
	register("plan", "cheapest deployment (hardware, replicas, TP, batch limit, P/D split) meeting TTFT/TPOT SLOs", runPlan)
}

// searchFlags are the simulate flags plan searches over or sets itself.
var searchFlags = map[string]bool{"hw": true, "tp": true, "replicas": true, "max-num-seqs": true, "disaggregate": true,
	"slo-ttft": true, "slo-tpot": true, "output-format": true, "requests-csv": true, "trace": true}

func runPlan(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan", planHelp, stderr)
	hwList := fs.String("hw", "h100-sxm,h200,a100-80g-sxm,l40s", "hardware candidates")
	tpList := fs.String("tp", "1", "tensor-parallel degrees")
	seqList := fs.String("max-num-seqs", "0", "batch limits (max sequences per iteration; 0: the engine's)")
	splitList := fs.String("splits", "mixed", "mixed (one pool) and/or prefill:decode ratios such as 1:2")
	maxReplicas := fs.Int("max-replicas", 64, "most replicas (or P:D multiples) tried per configuration")
	slo := sweep.SLO{}
	fs.Float64Var(&slo.TTFTSeconds, "slo-ttft", 0, "TTFT objective in seconds (0: none)")
	fs.Float64Var(&slo.TPOTSeconds, "slo-tpot", 0, "TPOT objective in seconds (0: none)")
	fs.StringVar(&slo.TTFTQuantile, "ttft-quantile", "p99", "quantile the TTFT objective applies to: mean, p50, p90, p99")
	fs.StringVar(&slo.TPOTQuantile, "tpot-quantile", "p99", "quantile the TPOT objective applies to")
	top := fs.Int("top", 5, "runner-ups to show")
	workers := fs.Int("workers", 0, "configurations simulated in parallel (default: one per CPU)")
	format := fs.StringP("output-format", "o", "table", "table or json")
	pass := addPassThrough(fs)
	if err := parseFlags(fs, args, format, "table", "json"); err != nil {
		return err
	}
	spec := sweep.PlanSpec{SLO: slo, MaxReplicas: *maxReplicas, Workers: *workers}
	if spec.Workers <= 0 {
		spec.Workers = runtime.GOMAXPROCS(0)
	}
	var err error
	if spec.HW, err = sweep.ParseValues("hw", sweep.String, *hwList); err != nil {
		return err
	}
	if spec.TP, err = intList("tp", *tpList, 1); err != nil {
		return err
	}
	if spec.MaxNumSeqs, err = intList("max-num-seqs", *seqList, 0); err != nil {
		return err
	}
	if spec.Splits, err = splits(*splitList); err != nil {
		return err
	}
	if *maxReplicas < 1 {
		return fmt.Errorf("--max-replicas: must be at least 1")
	}
	var base []string
	fs.Visit(func(f *pflag.Flag) {
		if _, ok := pass[f.Name]; ok {
			base = append(base, "--"+f.Name+"="+f.Value.String())
		}
	})
	sim := func(d sweep.Deployment) (sweep.Measured, error) { return simulateDeployment(base, d, slo) }
	cands, err := sweep.Plan(spec, sim)
	if err != nil {
		return err
	}
	p := newPlanOutput(spec, base, cands)
	if *format == "json" {
		err = writeJSON(stdout, p)
	} else {
		err = writePlanTable(stdout, p, *top)
	}
	if err != nil {
		return err
	}
	if !cands[0].Meets {
		return fmt.Errorf("no deployment meets the SLOs; the closest, %s, misses: %s", describe(cands[0].Deployment), cands[0].Reason)
	}
	return nil
}

// addPassThrough registers simulate's workload and model flags as text
// forwarded to every simulation.
func addPassThrough(fs *pflag.FlagSet) map[string]*string {
	sfs := newFlags("simulate", "", io.Discard)
	addSimulateFlags(sfs)
	out := map[string]*string{}
	sfs.VisitAll(func(f *pflag.Flag) {
		if searchFlags[f.Name] {
			return
		}
		v := new(string)
		*v = f.DefValue
		out[f.Name] = v
		fs.StringVar(v, f.Name, f.DefValue, "[simulate] "+f.Usage)
		if f.Value.Type() == "bool" {
			fs.Lookup(f.Name).NoOptDefVal = "true"
		}
	})
	return out
}

func intList(flag, spec string, least int) ([]int, error) {
	vals, err := sweep.ParseValues(flag, sweep.Int, spec)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(vals))
	for i, v := range vals {
		out[i], _ = strconv.Atoi(v)
		if out[i] < least {
			return nil, fmt.Errorf("--%s: %d is below %d", flag, out[i], least)
		}
	}
	return out, nil
}

func splits(spec string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "mixed" {
			out = append(out, "")
			continue
		}
		var p, d int
		if _, err := fmt.Sscanf(s, "%d:%d", &p, &d); err != nil || p < 1 || d < 1 || fmt.Sprintf("%d:%d", p, d) != s {
			return nil, fmt.Errorf("--splits: %q is not mixed or P:D with P, D ≥ 1", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// simulateDeployment runs llmsim simulate for one deployment.
func simulateDeployment(base []string, d sweep.Deployment, slo sweep.SLO) (sweep.Measured, error) {
	args := append(append([]string{}, base...), "--hw="+d.HW, "--tp="+strconv.Itoa(d.TP),
		fmt.Sprintf("--slo-ttft=%g", slo.TTFTSeconds), fmt.Sprintf("--slo-tpot=%g", slo.TPOTSeconds))
	if d.MaxNumSeqs > 0 {
		args = append(args, "--max-num-seqs="+strconv.Itoa(d.MaxNumSeqs))
	}
	if d.Split == "" {
		args = append(args, "--replicas="+d.Pools())
	} else {
		args = append(args, "--disaggregate="+d.Pools())
	}
	fs := newFlags("simulate", "", io.Discard)
	f := addSimulateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return sweep.Measured{}, err
	}
	r, err := simulate(fs, f)
	if err != nil {
		return sweep.Measured{}, err
	}
	q := func(mean, p50, p90, p99 float64) map[string]float64 {
		return map[string]float64{"mean": mean, "p50": p50, "p90": p90, "p99": p99}
	}
	m := sweep.Measured{
		TTFT: q(r.TTFT.Mean, r.TTFT.P50, r.TTFT.P90, r.TTFT.P99), TPOT: q(r.TPOT.Mean, r.TPOT.P50, r.TPOT.P90, r.TPOT.P99),
		Arrived: float64(r.Requests.Arrived), Completed: float64(r.Requests.Completed), Rejected: float64(r.Requests.Rejected),
		OutputTokensPerSecond: r.Throughput.OutputTokensPerSecond, USDPerMillionOutputTokens: r.Cost.USDPerMillionOutputTokens,
		JoulesPerOutputToken: r.Energy.JoulesPerOutputToken,
	}
	if r.DurationSeconds > 0 {
		m.USDPerHour = r.Cost.USD / r.DurationSeconds * 3600
	}
	for _, rep := range r.Replicas {
		m.GPUs += float64(rep.GPUs)
	}
	return m, nil
}

// planOutput is the JSON of llmsim plan.
type planOutput struct {
	Plan       planSearch      `json:"plan"`
	Candidates []planCandidate `json:"candidates"`
}

type planSearch struct {
	Simulate     string  `json:"simulate"` // the flags every simulation shares
	HW           string  `json:"hw"`
	TP           string  `json:"tp"`
	MaxNumSeqs   string  `json:"max_num_seqs"`
	Splits       string  `json:"splits"`
	MaxReplicas  int     `json:"max_replicas"`
	SLOTTFT      float64 `json:"slo_ttft_seconds"`
	TTFTQuantile string  `json:"ttft_quantile"`
	SLOTPOT      float64 `json:"slo_tpot_seconds"`
	TPOTQuantile string  `json:"tpot_quantile"`
	Method       string  `json:"method"`
}

type planCandidate struct {
	Rank            int     `json:"rank"`
	HW              string  `json:"hw"`
	TP              int     `json:"tp"`
	MaxNumSeqs      int     `json:"max_num_seqs"`
	Split           string  `json:"split"`
	Replicas        string  `json:"replicas"`
	GPUs            float64 `json:"gpus"`
	USDPerHour      float64 `json:"usd_per_hour"`
	MeetsSLO        bool    `json:"meets_slo"`
	Reason          string  `json:"reason,omitempty"`
	TTFTQuantile    float64 `json:"ttft_quantile_seconds"`
	TPOTQuantile    float64 `json:"tpot_quantile_seconds"`
	TTFTP99         float64 `json:"ttft_p99_seconds"`
	TPOTP99         float64 `json:"tpot_p99_seconds"`
	OutputTokensSec float64 `json:"output_tokens_per_second"`
	USDPerMillion   float64 `json:"usd_per_million_output_tokens"`
	JoulesPerToken  float64 `json:"joules_per_output_token"`
	Sims            int     `json:"sims"`
}

func newPlanOutput(spec sweep.PlanSpec, base []string, cands []sweep.Candidate) *planOutput {
	join := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	sp := make([]string, len(spec.Splits))
	for i, s := range spec.Splits {
		sp[i] = splitName(s)
	}
	p := &planOutput{Plan: planSearch{
		Simulate: strings.Join(base, " "), HW: strings.Join(spec.HW, ","), TP: join(spec.TP), MaxNumSeqs: join(spec.MaxNumSeqs),
		Splits: strings.Join(sp, ","), MaxReplicas: spec.MaxReplicas,
		SLOTTFT: spec.SLO.TTFTSeconds, TTFTQuantile: spec.SLO.TTFTQuantile, SLOTPOT: spec.SLO.TPOTSeconds, TPOTQuantile: spec.SLO.TPOTQuantile,
		Method: "event-driven simulation (llmsim simulate) per candidate; replicas by doubling and bisection",
	}}
	for i, c := range cands {
		m := c.Measured
		p.Candidates = append(p.Candidates, planCandidate{
			Rank: i + 1, HW: c.HW, TP: c.TP, MaxNumSeqs: c.MaxNumSeqs, Split: splitName(c.Split), Replicas: c.Pools(),
			GPUs: m.GPUs, USDPerHour: m.USDPerHour, MeetsSLO: c.Meets, Reason: c.Reason,
			TTFTQuantile: m.TTFT[spec.SLO.TTFTQuantile], TPOTQuantile: m.TPOT[spec.SLO.TPOTQuantile],
			TTFTP99: m.TTFT["p99"], TPOTP99: m.TPOT["p99"], OutputTokensSec: m.OutputTokensPerSecond,
			USDPerMillion: m.USDPerMillionOutputTokens, JoulesPerToken: m.JoulesPerOutputToken, Sims: c.Sims,
		})
	}
	return p
}

func splitName(s string) string {
	if s == "" {
		return "mixed"
	}
	return s
}

// describe names a deployment in words.
func describe(d sweep.Deployment) string {
	b := "engine default"
	if d.MaxNumSeqs > 0 {
		b = strconv.Itoa(d.MaxNumSeqs)
	}
	if d.Split == "" {
		return fmt.Sprintf("%d × %s (TP %d, max-num-seqs %s)", d.Replicas, d.HW, d.TP, b)
	}
	return fmt.Sprintf("%s prefill:decode replicas of %s (TP %d, max-num-seqs %s)", d.Pools(), d.HW, d.TP, b)
}

func writePlanTable(w io.Writer, p *planOutput, top int) error {
	s := p.Plan
	fmt.Fprintf(w, "workload: %s\n", orDefault(s.Simulate, "simulate's defaults"))
	fmt.Fprintf(w, "SLO: %s TTFT ≤ %s, %s TPOT ≤ %s; searched %s × TP %s × max-num-seqs %s × %s, up to %d replicas\n\n",
		s.TTFTQuantile, slo(s.SLOTTFT), s.TPOTQuantile, slo(s.SLOTPOT), s.HW, s.TP, s.MaxNumSeqs, s.Splits, s.MaxReplicas)
	c := p.Candidates
	if c[0].MeetsSLO {
		b := c[0]
		fmt.Fprintf(w, "best: %s, TP %d, max-num-seqs %s, replicas %s (%s): %.0f GPUs at $%.2f/h\n", b.HW, b.TP, seqs(b.MaxNumSeqs), b.Replicas, b.Split, b.GPUs, b.USDPerHour)
		fmt.Fprintf(w, "  predicted %s TTFT %s, %s TPOT %s", s.TTFTQuantile, dur(b.TTFTQuantile), s.TPOTQuantile, dur(b.TPOTQuantile))
		if s.TTFTQuantile != "p99" || s.TPOTQuantile != "p99" {
			fmt.Fprintf(w, " (p99 %s / %s)", dur(b.TTFTP99), dur(b.TPOTP99))
		}
		fmt.Fprintf(w, ", %.0f output tokens/s, $%.3f per million output tokens, %.3f J per output token\n\n", b.OutputTokensSec, b.USDPerMillion, b.JoulesPerToken)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rank\thw\tTP\tmax seqs\tsplit\treplicas\tGPUs\t$/h\tTTFT\tTPOT\tout tok/s\t$/M tok\tJ/tok\tsims\tverdict")
	shown := 0
	for _, x := range c {
		if x.MeetsSLO && shown > top {
			continue
		}
		shown++
		verdict := "meets"
		if !x.MeetsSLO {
			verdict = x.Reason
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%.0f\t%.2f\t%s\t%s\t%.0f\t%.3f\t%.3f\t%d\t%s\n", x.Rank, x.HW, x.TP, seqs(x.MaxNumSeqs), x.Split, x.Replicas,
			x.GPUs, x.USDPerHour, dur(x.TTFTQuantile), dur(x.TPOTQuantile), x.OutputTokensSec, x.USDPerMillion, x.JoulesPerToken, x.Sims, verdict)
	}
	return tw.Flush()
}

func seqs(n int) string {
	if n == 0 {
		return "engine"
	}
	return strconv.Itoa(n)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
