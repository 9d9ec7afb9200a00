package tarball

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bundle-dev/bundle/bundle/atomicfile"
)

// Arg is one argument of the ingest command: a literal value, always
// quoted for the shell, or a reference to a shell variable the script that
// runs the command sets. A literal is never interpreted by the shell,
// whatever it holds ($, backquotes, quotes, spaces).
type Arg struct {
	value string
	isVar bool
}

// Literal is the argument s, taken as is.
func Literal(s string) Arg { return Arg{value: s} }

// Var is the value of the shell variable name ("$name", double-quoted).
func Var(name string) Arg { return Arg{value: name, isVar: true} }

func (a Arg) word() string {
	if a.isVar {
		return `"$` + a.value + `"`
	}
	return ShellQuote(a.value)
}

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
// tarball is a literal file name; repo and subdir are literals or shell
// variables. Every literal becomes one single-quoted shell word when it
// holds anything but plain characters. A literal subdir loses its leading
// slashes (--base_dir is relative to the repository root); an empty one
// means the repository root "/". compression is a Write value ("gzip",
// "zstd", "none"); "" or an unknown value is inferred from the tarball's
// suffix.
func IngestCommand(tarball string, repo, subdir Arg, compression string) string {
	if !subdir.isVar {
		subdir.value = strings.TrimLeft(subdir.value, "/")
		if subdir.value == "" {
			subdir.value = "/"
		}
	}
	tail := fmt.Sprintf("cvmfs_server ingest --tar_file %%s --base_dir %s %s", subdir.word(), repo.word())
	file := ShellQuote(tarball)
	switch compressionOf(tarball, compression) {
	case "none":
		return fmt.Sprintf(tail, file)
	case "zstd":
		return "zstd -dc " + file + " | " + fmt.Sprintf(tail, "-")
	default:
		return "gzip -dc " + file + " | " + fmt.Sprintf(tail, "-")
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

// ShellQuote renders s as one shell word the shell takes literally: s
// itself when it holds only characters no shell interprets, else s in
// single quotes (a quote inside is closed, escaped and reopened).
func ShellQuote(s string) string {
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
	return atomicfile.Write(file, []byte(sum+"  "+base+"\n"), 0o644)
}
