// Package executable recognises machine code and scripts where a model file
// should be: ELF, PE (and MS-DOS), Mach-O (thin and universal) binaries,
// Actually Portable Executable polyglots such as llamafile, Java class files,
// and shebang scripts. A model artifact has no reason to carry them; a loader
// that calls torch.ops.load_library, ctypes or a serving runtime's handler
// hook runs them, and a file that claims to be weights but is a program is a
// smuggling attempt.
//
// Severity: native code (ELF, PE, MS-DOS, Mach-O, APE) is critical, because
// nothing a scanner can read tells what it does once loaded or run; Java
// class files and shebang scripts are high, like other code that runs only
// when something chooses to run it. Python scripts with a shebang are left to
// the Python format when one is registered before this one.
package executable
