package tarball

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IngestCommand returns the shell pipe a CVMFS release manager runs on the
// stratum 0 to publish the tarball under /cvmfs/REPO/SUBDIR:
//
//	gzip -dc NAME.tar.gz | cvmfs_server ingest --tar_file - --base_dir SUBDIR REPO
//
// `cvmfs_server ingest` reads an uncompressed tar (`--tar_file -` is
// standard input), so gzip and zstd tarballs are decompressed into the pipe
// (`gzip -dc`, `zstd -dc`); a plain tar is given by name. The repository
// name comes last because the command treats its final argument as the
// repository. The tar's single top directory lands inside SUBDIR, and its
// .cvmfscatalog markers become nested catalogs.
//
// Each of tarball, repo and subdir becomes one shell word: a value that is
// already a shell expression (starting with ", ' or $, e.g. "$REPO") is
// inserted verbatim, any other value is single-quoted when it holds
// characters the shell would interpret. A literal subdir loses its leading
// slashes (--base_dir is relative to the repository root); an empty one means
// the repository root "/". compression is a Write value ("gzip", "zstd",
// "none"); "" or an unknown value is inferred from the tarball's suffix.
func IngestCommand(tarball, repo, subdir string, compression string) string {
	if !isShellExpr(subdir) {
		subdir = strings.TrimLeft(subdir, "/")
		if subdir == "" {
			subdir = "/"
		}
	}
	tail := fmt.Sprintf("cvmfs_server ingest --tar_file %%s --base_dir %s %s", shellWord(subdir), shellWord(repo))
	switch compressionOf(tarball, compression) {
	case "none":
		return fmt.Sprintf(tail, shellWord(tarball))
	case "zstd":
		return "zstd -dc " + shellWord(tarball) + " | " + fmt.Sprintf(tail, "-")
	default:
		return "gzip -dc " + shellWord(tarball) + " | " + fmt.Sprintf(tail, "-")
	}
}

// compressionOf resolves the compression IngestCommand describes.
func compressionOf(name, compression string) string {
	switch compression {
	case "gzip", "zstd", "none":
		return compression
	}
	switch {
	case strings.HasSuffix(name, ".zst"), strings.HasSuffix(name, ".tzst"):
		return "zstd"
	case strings.HasSuffix(name, ".tar"):
		return "none"
	}
	return "gzip"
}

func isShellExpr(s string) bool {
	return s != "" && (s[0] == '"' || s[0] == '\'' || s[0] == '$')
}

// shellWord renders s as one shell word (see IngestCommand).
func shellWord(s string) string {
	if isShellExpr(s) {
		return s
	}
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// WriteSHA256File writes the coreutils checksum file of path:
// "<hex>  <basename>\n", which `sha256sum -c` verifies from path's
// directory. The checksum file is path+".sha256"; when path itself ends in
// ".sha256" it is taken to be the checksum file and the file it describes is
// path without that suffix. The file is replaced atomically.
func WriteSHA256File(path, sum string) error {
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return fmt.Errorf("write checksum for %s: %q is not a lowercase hex sha256", path, sum)
	}
	target, file := path, path+".sha256"
	if strings.HasSuffix(path, ".sha256") {
		target, file = strings.TrimSuffix(path, ".sha256"), path
	}
	base := filepath.Base(target)
	if base == "." || base == string(filepath.Separator) || strings.ContainsAny(base, "\n\\") {
		return fmt.Errorf("write checksum for %s: the name %q cannot be written in a coreutils checksum line", path, base)
	}
	if err := writeFileAtomic(file, []byte(sum+"  "+base+"\n")); err != nil {
		return fmt.Errorf("write checksum file %s: %w", file, err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside name, fsyncs it and
// renames it over name, so name never holds a partial file.
func writeFileAtomic(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
