package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
)

// node is the part of a system an offloading engine uses: the accelerator
// that computes, the host whose DRAM is the second tier, and a storage
// device (disk or flash) for the third tier, with the links between them.
type node struct {
	sys            *hw.System
	gpu, cpu, disk *hw.Group
	gpuHost        *hw.Link // accelerator ↔ host; nil when they are one device
	diskHost       *hw.Link // storage ↔ host (or ↔ accelerator when no host)
}

// locate finds the tiers of sys. The accelerator is sys.Primary(); the host
// is sys.HostGroup(); the storage is the first ssd, flash or csd group
// linked to the host (or to the accelerator); a CSD serves as plain storage
// here (its NAND), its engine is used only by the instinfer scheme.
func locate(sys *hw.System) (*node, error) {
	n := &node{sys: sys, gpu: sys.Primary(), cpu: sys.HostGroup()}
	if n.cpu != nil && n.cpu.Name != n.gpu.Name {
		n.gpuHost = sys.LinkBetween(n.gpu.Name, n.cpu.Name)
		if n.gpuHost == nil {
			return nil, fmt.Errorf("offload: system %s has no link between %s and host %s", sys.Name, n.gpu.Name, n.cpu.Name)
		}
	}
	for i := range sys.Groups {
		g := &sys.Groups[i]
		if k := g.Device.Kind; k != hw.SSD && k != hw.Flash && k != hw.CSD {
			continue
		}
		for _, peer := range []*hw.Group{n.cpu, n.gpu} {
			if peer == nil {
				continue
			}
			if l := sys.LinkBetween(g.Name, peer.Name); l != nil {
				n.disk, n.diskHost = g, l
				break
			}
		}
		if n.disk != nil {
			break
		}
	}
	return n, nil
}

// needHost checks for a host memory tier. A device that is its own host
// (a CPU, a unified-memory SoC) has one without a link: copies between the
// tiers then take no time (its tasks on the missing link are barriers).
// locateWith is locate, then the tiers a scheme needs: a host CPU linked
// to the accelerator (host) and a drive (disk).
func locateWith(sys *hw.System, host, disk bool) (*node, error) {
	n, err := locate(sys)
	if err != nil {
		return nil, err
	}
	if host {
		if err := n.needHost(); err != nil {
			return nil, err
		}
	}
	if disk {
		if err := n.needDisk(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n *node) needHost() error {
	if n.cpu != nil && n.cpu.Name == n.gpu.Name {
		return nil
	}
	if n.cpu == nil || n.gpuHost == nil {
		return fmt.Errorf("offload: system %s needs a host CPU linked to its accelerator %s", n.sys.Name, n.gpu.Name)
	}
	return nil
}

func (n *node) needDisk() error {
	if n.disk == nil {
		return fmt.Errorf("offload: system %s has no ssd or flash device linked to its host", n.sys.Name)
	}
	return nil
}

// nodeRes indexes the resources of a node in a Graph; -1 when absent.
type nodeRes struct {
	gpu, cpu, h2d, d2h, diskR, diskW int
}

// resources adds the node's engines and channels to g: the accelerator and
// the host as Serial compute engines, each direction of the host link and
// the storage's read and write paths as Shared channels.
func (n *node) resources(g *Graph) nodeRes {
	r := nodeRes{gpu: -1, cpu: -1, h2d: -1, d2h: -1, diskR: -1, diskW: -1}
	r.gpu = g.AddResource(Resource{Name: n.gpu.Name, Kind: Serial, Group: n.gpu.Name})
	if n.cpu != nil && n.cpu.Name != n.gpu.Name {
		r.cpu = g.AddResource(Resource{Name: n.cpu.Name, Kind: Serial, Group: n.cpu.Name})
	} else {
		r.cpu = r.gpu
	}
	if l := n.gpuHost; l != nil {
		r.h2d = g.AddResource(linkResource(l, "host→"+n.gpu.Name))
		r.d2h = g.AddResource(linkResource(l, n.gpu.Name+"→host"))
	}
	if n.disk != nil {
		d := n.disk.Device
		nand := storageTier(d)
		// Drives of a group work in parallel (data striped over them); each
		// is limited by its media and by its own link.
		count := float64(n.disk.Count)
		read := Resource{Name: n.disk.Name + " read", Kind: Shared, Group: n.disk.Name,
			BytesPerSecond: count * min(nand.BytesPerSecond, n.diskHost.BytesPerSecond), LatencySeconds: nand.LatencySeconds}
		write := read
		write.Name = n.disk.Name + " write"
		if d.Flash != nil {
			read.SizeCurve = d.Flash.ReadCurve
			if d.Flash.WriteBytesPerSecond > 0 {
				write.BytesPerSecond = count * min(d.Flash.WriteBytesPerSecond, n.diskHost.BytesPerSecond)
			}
		}
		r.diskR = g.AddResource(read)
		r.diskW = g.AddResource(write)
	}
	return r
}

// storageTier is a storage device's media: the NAND tier of a CSD (its
// memory[1]; memory[0] is the engine's DRAM), else its main memory.
func storageTier(d *hw.Device) hw.MemoryTier {
	if d.Kind == hw.CSD && len(d.Memory) > 1 {
		return d.Memory[1]
	}
	return d.MainMemory()
}

func linkResource(l *hw.Link, name string) Resource {
	return Resource{Name: name, Kind: Shared, BytesPerSecond: l.BytesPerSecond,
		LatencySeconds: l.LatencySeconds, SizeCurve: l.SizeCurve}
}

// capacity is a group's memory capacity net of its runtime reserve (a
// CSD's NAND for storage groups).
func capacity(g *hw.Group) float64 {
	m := g.Device.MainMemory()
	if g.Device.Kind == hw.CSD {
		m = storageTier(g.Device)
	}
	return float64(g.Count) * (m.CapacityBytes - m.ReservedBytes)
}
