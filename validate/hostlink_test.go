package validate

import "testing"

// llmsim's shared-host model (hw.System.SharedHost, simulate --host-share)
// keeps each GPU's PCIe link its own and does not cap it by the host's
// DRAM. Measured on the H200 machine (validate/gpu/hostlink_share.py, data
// in gpu/data/h200-hostlink): a 1 GiB pinned host-to-device copy runs at
// 54.0 GB/s alone and 54.0 GB/s while the host copies 1 GiB in its own
// DRAM at the same time, and the host's copy is not slowed either (30 GB/s
// against 24 GB/s for its first, colder run). The multi-GPU cases of the
// script need a machine with several GPUs, which was not available.
func TestHostLinkIsNotSlowedByHostMemoryTraffic(t *testing.T) {
	tab, err := readTable("gpu/data/h200-hostlink/hostlink_share.csv")
	if err != nil {
		t.Fatal(err)
	}
	rate := map[string]float64{}
	for i := range tab.rows {
		v, err := tab.num(i, "gbps")
		if err != nil {
			t.Fatal(err)
		}
		rate[tab.str(i, "case")+" "+tab.str(i, "device")] = v
	}
	alone, busy := rate["h2d_alone cuda:0"], rate["h2d_with_cpu_copy cuda:0"]
	if alone < 50 || busy < 0.97*alone {
		t.Errorf("host-to-device %.1f GB/s alone, %.1f GB/s with the host copying: want ≥ 50 and within 3%%", alone, busy)
	}
	if cpu := rate["h2d_with_cpu_copy cpu"]; cpu < 0.9*rate["cpu_copy_alone cpu"] {
		t.Errorf("host copy %.1f GB/s during the DMA, %.1f alone", cpu, rate["cpu_copy_alone cpu"])
	}
}
