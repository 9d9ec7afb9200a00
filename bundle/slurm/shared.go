package slurm

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Path is one path the jobs need, with what it is for the error message
// ("work directory", "cache directory", "bundle binary").
type Path struct {
	What, Path string
}

// sharedFS are the filesystems (statfs magic numbers) several machines
// mount at once: network and cluster filesystems. FUSE is among them
// since ceph-fuse, GlusterFS and the like are FUSE.
var sharedFS = map[int64]string{
	0x6969:     "nfs",
	0x0BD00BD0: "lustre",
	0x00C36400: "ceph",
	0x47504653: "gpfs",
	0x19830326: "beegfs",
	0xFF534D42: "cifs",
	0xFE534D42: "smb2",
	0x517B:     "smb",
	0x5346414F: "afs",
	0x7461636F: "ocfs2",
	0x01161970: "gfs2",
	0xAAD7AAEA: "panfs",
	0x65735546: "fuse",
}

// localFS names common local filesystems for the error message.
var localFS = map[int64]string{
	0xEF53:     "ext4",
	0x58465342: "xfs",
	0x9123683E: "btrfs",
	0x01021994: "tmpfs",
	0x794C7630: "overlay",
	0x2FC12FC1: "zfs",
}

// fsType names the filesystem of path and says whether machines share it.
func fsType(path string) (string, bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "", false, err
	}
	t := int64(st.Type)
	if name, ok := sharedFS[t]; ok {
		return name, true, nil
	}
	if name, ok := localFS[t]; ok {
		return name, false, nil
	}
	return fmt.Sprintf("0x%x", t), false, nil
}

// CheckShared checks that the jobs on partition's nodes see paths: each
// must be on a network or cluster filesystem (NFS, Lustre, CephFS, GPFS,
// BeeGFS, ...), unless every node of the partition is this machine, where
// a local filesystem is the same one. The error names the first path that
// is not shared and the nodes that would not see it.
func (c *Client) CheckShared(ctx context.Context, partition string, paths []Path) error {
	nodes, err := c.Nodes(ctx, partition)
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("host name: %w", err)
	}
	for _, p := range paths {
		fs, shared, err := fsType(p.Path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.What, p.Path, err)
		}
		if err := sharedVerdict(p, fs, shared, nodes, host, partition); err != nil {
			return err
		}
	}
	return nil
}

// sharedVerdict decides for one path on filesystem fs.
func sharedVerdict(p Path, fs string, shared bool, nodes []Node, host, partition string) error {
	if shared {
		return nil
	}
	var others []string
	for _, n := range nodes {
		if !sameHost(n.Hostname, host) && !sameHost(n.Name, host) {
			others = append(others, n.Name)
		}
	}
	if len(others) == 0 {
		return nil // every node is this machine
	}
	if partition == "" {
		partition = "(default)"
	}
	if len(others) > 5 {
		others = append(others[:5], fmt.Sprintf("and %d more", len(others)-5))
	}
	return fmt.Errorf("%s %s is on a local %s filesystem of %s, which the nodes %s of partition %s do not share: "+
		"put it on a filesystem every node mounts at the same path (NFS, Lustre, CephFS, GPFS, BeeGFS)",
		p.What, p.Path, fs, host, strings.Join(others, ", "), partition)
}

// sameHost compares host names, ignoring the domain.
func sameHost(a, b string) bool {
	short := func(s string) string {
		s, _, _ = strings.Cut(strings.ToLower(s), ".")
		return s
	}
	return a != "" && short(a) == short(b)
}
