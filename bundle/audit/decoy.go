package audit

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
)

// DecoyMarker starts the message a decoy library prints when it is loaded.
const DecoyMarker = "bundle test: decoy"

// DecoyExit is the exit status of a process that loaded a decoy library.
const DecoyExit = 97

// decoyLib returns a minimal 64-bit little-endian shared object whose
// SONAME is soname and which defines no symbol: a program that loads it
// instead of the real library fails to resolve its symbols. On x86_64 its
// initialiser also writes "bundle test: decoy SONAME loaded through
// LD_LIBRARY_PATH" to stderr and exits with status DecoyExit, so a check
// that loads it fails unmistakably.
//
// Layout: one read-only executable page holding the ELF header, the
// program headers, a one-bucket DT_HASH table, the null symbol, the string
// table and the initialiser; one writable page holding the dynamic
// section (the loader relocates its entries in place). PT_GNU_STACK keeps
// the stack non-executable. There are no section headers.
func decoyLib(soname string, machine elf.Machine) ([]byte, error) {
	if len(soname) == 0 || len(soname) > 255 {
		return nil, fmt.Errorf("decoy: bad soname %q", soname)
	}
	const (
		ehSize   = 64
		phSize   = 56
		phNum    = 4
		hashOff  = ehSize + phSize*phNum
		symOff   = hashOff + 16
		strOff   = symOff + 24
		dataPage = 0x1000
	)
	strtab := append([]byte{0}, soname...)
	strtab = append(strtab, 0)
	codeOff := (strOff + len(strtab) + 7) &^ 7
	var code []byte
	if machine == elf.EM_X86_64 {
		msg := DecoyMarker + " " + soname + " loaded through LD_LIBRARY_PATH\n"
		code = []byte{
			0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (write)
			0xbf, 0x02, 0x00, 0x00, 0x00, // mov edi, 2
			0x48, 0x8d, 0x35, 0x13, 0x00, 0x00, 0x00, // lea rsi, [rip+19]: the message after the code
			0xba, 0, 0, 0, 0, // mov edx, len
			0x0f, 0x05, // syscall
			0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
			0xbf, DecoyExit, 0x00, 0x00, 0x00, // mov edi, DecoyExit
			0x0f, 0x05, // syscall
		}
		binary.LittleEndian.PutUint32(code[18:], uint32(len(msg)))
		code = append(code, msg...)
	}
	textEnd := codeOff + len(code)
	type dyn struct{ tag, val uint64 }
	dyns := []dyn{
		{uint64(elf.DT_HASH), hashOff},
		{uint64(elf.DT_STRTAB), strOff},
		{uint64(elf.DT_SYMTAB), symOff},
		{uint64(elf.DT_STRSZ), uint64(len(strtab))},
		{uint64(elf.DT_SYMENT), 24},
		{uint64(elf.DT_SONAME), 1},
	}
	if code != nil {
		dyns = append(dyns, dyn{uint64(elf.DT_INIT), uint64(codeOff)})
	}
	dyns = append(dyns, dyn{uint64(elf.DT_NULL), 0})
	dynSize := len(dyns) * 16

	buf := make([]byte, dataPage+dynSize)
	le := binary.LittleEndian
	copy(buf, []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)})
	le.PutUint16(buf[16:], uint16(elf.ET_DYN))
	le.PutUint16(buf[18:], uint16(machine))
	le.PutUint32(buf[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(buf[32:], ehSize) // e_phoff
	le.PutUint16(buf[52:], ehSize)
	le.PutUint16(buf[54:], phSize)
	le.PutUint16(buf[56:], phNum)
	le.PutUint16(buf[58:], 64) // e_shentsize
	ph := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, size, align uint64) {
		b := buf[ehSize+i*phSize:]
		le.PutUint32(b[0:], uint32(typ))
		le.PutUint32(b[4:], uint32(flags))
		le.PutUint64(b[8:], off)   // p_offset
		le.PutUint64(b[16:], off)  // p_vaddr
		le.PutUint64(b[24:], off)  // p_paddr
		le.PutUint64(b[32:], size) // p_filesz
		le.PutUint64(b[40:], size) // p_memsz
		le.PutUint64(b[48:], align)
	}
	ph(0, elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, uint64(textEnd), 0x1000)
	ph(1, elf.PT_LOAD, elf.PF_R|elf.PF_W, dataPage, uint64(dynSize), 0x1000)
	ph(2, elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, dataPage, uint64(dynSize), 8)
	ph(3, elf.PT_GNU_STACK, elf.PF_R|elf.PF_W, 0, 0, 16)
	le.PutUint32(buf[hashOff:], 1) // nbucket; nchain 1, bucket and chain 0
	le.PutUint32(buf[hashOff+4:], 1)
	copy(buf[strOff:], strtab)
	copy(buf[codeOff:], code)
	for i, d := range dyns {
		le.PutUint64(buf[dataPage+i*16:], d.tag)
		le.PutUint64(buf[dataPage+i*16+8:], d.val)
	}
	return buf, nil
}

// writeDecoy writes the decoy for soname into dir.
func writeDecoy(dir, soname string, machine elf.Machine) error {
	data, err := decoyLib(soname, machine)
	if err != nil {
		return err
	}
	return os.WriteFile(dir+"/"+soname, data, 0o755)
}
