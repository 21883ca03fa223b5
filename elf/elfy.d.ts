// elfy 1.0 ships no types. Only what elf/elfFile.ts uses is declared; elfy
// validates nothing it parses, so elfFile.ts bounds-checks the file first.
declare module 'elfy' {
  export interface ElfySection {
    /** resolved from the section name table */
    name: string;
    off: number;
    size: number;
    link: number;
    info: number;
    /** a Buffer view of the file: `buf.slice(off, off + size)` */
    data: Buffer;
  }
  export interface ElfyFile {
    class: string;
    endian: string;
    shnum: number;
    shstrndx: number;
    body: { sections: ElfySection[] };
  }
  const elfy: {
    /** throws bare Errors, AssertionErrors and RangeErrors on what it cannot read */
    parse(buf: Uint8Array): ElfyFile;
  };
  export default elfy;
}
