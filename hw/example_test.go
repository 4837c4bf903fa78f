package hw_test

import (
	"fmt"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
)

func ExampleLoad() {
	sys, err := hw.Load("dgx-h100")
	if err != nil {
		fmt.Println(err)
		return
	}
	gpus := sys.Primary()
	h100 := gpus.Device
	hbm := h100.MainMemory()
	fmt.Printf("%s: %d × %s, host %s\n", sys.Name, gpus.Count, h100.Name, sys.HostGroup().Device.Name)
	fmt.Printf("dense bf16 peak: %.1f TFLOP/s\n", h100.DTypePeak(dtype.BF16)/1e12)
	fmt.Printf("HBM: %.0f GiB at %.2f TB/s\n", hbm.CapacityBytes/(1<<30), hbm.BytesPerSecond/1e12)
	fmt.Printf("NVLink: %.0f GB/s per direction\n", sys.LinkBetween("gpu", "gpu").BytesPerSecond/1e9)
	fmt.Printf("a 1e12-FLOP GEMM runs at %.1f%% of peak\n", 100*h100.Efficiency.ComputeFraction(1e12, hw.ClassGEMM))
	// Output:
	// dgx-h100: 8 × h100-sxm, host xeon-8480
	// dense bf16 peak: 989.4 TFLOP/s
	// HBM: 80 GiB at 3.35 TB/s
	// NVLink: 450 GB/s per direction
	// a 1e12-FLOP GEMM runs at 73.7% of peak
}
