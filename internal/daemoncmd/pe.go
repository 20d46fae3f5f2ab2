package daemoncmd

import (
	"encoding/binary"
	"errors"
)

// PE subsystems (the optional header's Subsystem field).
const (
	peSubsystemGUI     = 2
	peSubsystemConsole = 3
)

// windowless returns a copy of the Windows program exe marked for the GUI
// subsystem, as `go build -ldflags -H=windowsgui` or editbin
// /SUBSYSTEM:WINDOWS would mark it: Windows then gives it no console
// window when it starts at logon. The program is otherwise the same; its
// standard streams are simply not connected.
func windowless(exe []byte) ([]byte, error) {
	bad := errors.New("not a Windows program (no PE header)")
	if len(exe) < 0x40 || exe[0] != 'M' || exe[1] != 'Z' {
		return nil, bad
	}
	pe := int(binary.LittleEndian.Uint32(exe[0x3c:]))
	// "PE\0\0", the 20-byte file header, then the optional header, whose
	// Subsystem is at offset 68 in both PE32 and PE32+.
	opt := pe + 4 + 20
	sub := opt + 68
	if pe < 0 || sub+2 > len(exe) || string(exe[pe:pe+4]) != "PE\x00\x00" {
		return nil, bad
	}
	if m := binary.LittleEndian.Uint16(exe[opt:]); m != 0x10b && m != 0x20b {
		return nil, bad
	}
	switch binary.LittleEndian.Uint16(exe[sub:]) {
	case peSubsystemConsole, peSubsystemGUI:
	default:
		return nil, errors.New("not a console or windowed Windows program")
	}
	out := append([]byte(nil), exe...)
	binary.LittleEndian.PutUint16(out[sub:], peSubsystemGUI)
	return out, nil
}
