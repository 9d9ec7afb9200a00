// Package relocate makes a staging tree work from wherever a grid site
// unpacks it: read-only, on CVMFS, run by ordinary users whose job
// wrappers set LD_LIBRARY_PATH, PATH and friends for other software.
//
// The tree stands for "/" of the installed packages (TOP/usr/bin/python3);
// the links stage has already made every symlink relative and inside.
// [Relocate] rewrites it in place, in this order:
//
//  1. Libtool archives (*.la) are removed: they hold absolute paths, and
//     nothing links against a bundle at run time.
//
//  2. ELF search paths. Every shared object is indexed by SONAME first; two
//     different files (by content) with one SONAME are an error naming
//     both — a symlink to a file, or an identical copy, is the same file.
//     Each dynamically linked executable and shared object then gets a
//     DT_RPATH of "$ORIGIN"-relative entries, one per bundle directory that
//     holds one of its DT_NEEDED libraries, in DT_NEEDED order. DT_RPATH,
//     not DT_RUNPATH: the loader searches DT_RPATH before LD_LIBRARY_PATH
//     (and uses an executable's DT_RPATH for its libraries too), so a job's
//     LD_LIBRARY_PATH cannot swap a bundled library for the host's, which
//     is what broke DIRACOS until it moved to RPATHs. Libraries the
//     platform's base provides (libc.so.6, libm.so.6, ld-linux...) get no
//     entry. A library is loaded under the name of the directory entry the
//     search found, and $ORIGIN is that entry's directory, so a library
//     reachable through symlinks in other directories gets entries that
//     work from each of them; an executable's $ORIGIN is its real
//     directory. Search path entries the file already had are kept after
//     the new ones when they name a directory inside the bundle (rewritten
//     relative to $ORIGIN, build-root prefixes removed), so a program that
//     dlopen()s from a private directory keeps finding it; entries naming
//     host directories are dropped. The new path is written by
//     "patchelf --force-rpath --set-rpath" on a copy, read back with
//     debug/elf (DT_RPATH as written, no DT_RUNPATH, DT_NEEDED and SONAME
//     unchanged, every bundled DT_NEEDED found through it from every
//     directory the file is loaded from) and renamed over the file. Static
//     executables, relocatable objects (.o, kernel modules) and debug files
//     under /usr/lib/debug are left alone. A DT_NEEDED that is neither in
//     the bundle nor in the base is reported (Report.Unresolved): the audit
//     fails on it.
//
//  3. Scripts. An executable file whose "#!" line names an interpreter
//     inside the bundle (build-root prefixes removed first), or whose pip
//     launcher (an exec of an absolute path under "#!/bin/sh") does, gets a
//     /bin/sh launcher that runs that interpreter relative to the script's
//     own real directory (see package shebang for the exact forms, and why
//     they work through symlinks, PATH and relative $0). "#!/bin/sh",
//     "#!/usr/bin/env ..." and the platform's base files (/bin/bash ...)
//     stay. An interpreter that is not in the bundle, or that has no
//     launcher form (only python, perl, bash, zsh, tclsh and wish have
//     one), is reported (Report.Unrelocated) and left as it is.
//
//  4. Build paths. No build-root, staging or source-cache path
//     (Options.BuildPaths, plus the staging root itself) may survive.
//     Every file is streamed through a matcher. In a text file (no NUL
//     byte) each occurrence is rewritten to the bundle path it stands for:
//     the build path, and whatever follows it up to the first component
//     that is a top-level entry of the tree, is removed, so
//     "/builddir/build/BUILDROOT/python3-3.11.5-1.el9.x86_64/usr/lib64"
//     becomes "/usr/lib64" and "STAGING/usr/bin" becomes "/usr/bin"; a
//     path with no such component (a source directory such as
//     "/builddir/build/BUILD/Python-3.11.5/Include") keeps only what
//     follows the build path ("/Python-3.11.5/Include"), which exists
//     nowhere and so can mislead nothing. This covers _sysconfigdata_*.py,
//     config-*/Makefile, python3-config and other *-config scripts, *.cmake
//     and every other script. pkg-config files are made relocatable as
//     well: "prefix=/usr" becomes "prefix=${pcfiledir}/../.." (the path
//     from the file's directory), and other variables starting with the
//     old prefix are written from ${prefix}. In an ELF file or an ar
//     archive the bytes of the build path, and of the path components up
//     to the same top-level component, are overwritten with "/" (the
//     string keeps its length and "//////usr/lib64" still names
//     /usr/lib64): those are NUL-terminated strings (__FILE__, debug
//     info, dead strings patchelf leaves behind). Other binary files with a
//     build path are reported (Report.Unrelocated) and left alone.
//
//  5. Byte-compiled Python. A *.pyc file is stale once its source was
//     rewritten, and a pyc compiled by pip in the staging tree names the
//     staging path in co_filename. When Options.Python names a runnable
//     Python 3.9 or newer in the bundle, those files are recompiled after
//     every rewrite with "python -m compileall --invalidation-mode
//     unchecked-hash -s STAGING -p /" at the optimisation levels that were
//     there. Unchecked-hash because the tarball clamps modification times
//     (a timestamp pyc would no longer match its source and Python would
//     recompile it in memory at every import, on a read-only CVMFS that
//     cannot store the result) and a bundle never changes once published;
//     recompiling rather than removing because a missing pyc costs that
//     compilation at every import on every worker node. Without a
//     runnable Python, the pyc files of rewritten sources are removed
//     (a stale unchecked pyc would run the old code), and pyc files that
//     only name the staging path have it overwritten in place like an ELF
//     string (a marshalled string keeps its length, so the file stays
//     valid). pyc files of another Python than Options.Python (another
//     cache tag) are removed when their source was rewritten.
//
// Every rewritten file is written to a temporary file in its directory and
// renamed over the old one, with the old mode, owner and times, so an
// interrupted run leaves every path either old or complete, and a second
// run changes nothing. [WriteEnvScript] writes the bundlerc users source.
package relocate
